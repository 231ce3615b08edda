"""Ctrl-C and SIGTERM always end `rlvr`: a cleanup that hangs is cut short after `CLEANUP_GRACE_S`, and a second
signal ends the process at once (the actors then clean up after themselves, as after a learner SIGKILL)."""

import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

HANGING_CLEANUP = """
import os, signal, sys, time
import rlvr.cli as cli
cli.CLEANUP_GRACE_S = {grace}
cli._unwind_on_signals()
try:
    os.kill(os.getpid(), signal.{sig})
    time.sleep(60)
finally:
    print("cleaning up", flush=True)
    {second}
    time.sleep(60)  # a cleanup that never ends (a lock another thread holds, an engine that never answers)
"""


@pytest.mark.parametrize(("sig", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_hanging_cleanup_is_cut_short_after_the_grace_period(sig, code):
    start = time.monotonic()
    script = HANGING_CLEANUP.format(grace=1.0, sig=sig, second="")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == code and "cleaning up" in proc.stdout
    assert "cleanup took over 1 s, exiting now" in proc.stderr
    assert time.monotonic() - start < 20  # not the 60 s the cleanup would have taken


def test_a_second_ctrl_c_exits_at_once():
    script = HANGING_CLEANUP.format(grace=30.0, sig="SIGINT", second="os.kill(os.getpid(), signal.SIGINT)")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 130 and "interrupted again: exiting now" in proc.stderr
    assert time.monotonic() - start < 20


def test_without_the_handlers_python_would_wait_for_the_cleanup():
    # the check above means something: the same script with Python's own SIGINT handling is still running
    script = HANGING_CLEANUP.format(grace=1.0, sig="SIGINT", second="").replace("cli._unwind_on_signals()", "")
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=5)
