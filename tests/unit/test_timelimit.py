"""rewards.timelimit: an in-process time limit that works in any thread and leaves nothing behind."""

import threading
import time

import pytest

from rewards.timelimit import TimeLimitExceeded, time_limit


def spin_forever() -> None:
    while True:
        pass


def spin_for(seconds: float) -> int:
    end, n = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        n += 1
    return n


@pytest.mark.timeout(30)
def test_a_python_loop_is_interrupted_in_the_main_thread():
    with pytest.raises(TimeLimitExceeded), time_limit(0.1):
        spin_forever()


@pytest.mark.timeout(30)
def test_a_python_loop_is_interrupted_in_another_thread():
    outcome = []

    def worker() -> None:
        try:
            with time_limit(0.1):
                spin_forever()
        except TimeLimitExceeded:
            outcome.append("stopped")

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(20)
    assert outcome == ["stopped"]


@pytest.mark.timeout(30)
def test_only_the_overrunning_thread_is_interrupted():
    results = {}

    def slow() -> None:
        try:
            with time_limit(0.1):
                spin_forever()
        except TimeLimitExceeded:
            results["slow"] = "stopped"

    def steady() -> None:
        with time_limit(20):
            results["steady"] = spin_for(0.5) > 0

    threads = [threading.Thread(target=slow), threading.Thread(target=steady)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(25)
    assert results == {"slow": "stopped", "steady": True}


def test_a_block_that_finishes_in_time_is_not_interrupted_later():
    with time_limit(0.05):
        value = 1 + 1
    spin_for(0.3)  # well past the deadline: a stray exception would surface here
    assert value == 2


def test_no_limit():
    with time_limit(None):
        assert spin_for(0.01) > 0


def test_exceptions_of_the_block_pass_through():
    with pytest.raises(KeyError), time_limit(5):
        raise KeyError("mine")
