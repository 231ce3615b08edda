"""A time limit for a block of Python code, in the calling thread, without a helper process or a signal.

    with time_limit(2.0):
        slow_sympy_call()          # raises TimeLimitExceeded in this thread after 2 s

Why this design: a helper process cannot be started from a daemonic `multiprocessing.Pool` worker, re-imports
guard-less scripts under spawn/forkserver and breaks under `python -`; `signal.alarm` works only in the main
thread. Instead one daemon watchdog thread per process (started on first use, restarted after a fork) raises
the exception in the thread that overran, with `PyThreadState_SetAsyncExc`. Like a signal, it is delivered
between two bytecodes: it cannot interrupt one long C call (CPython's big-integer power), which is why the
math verifier checks sizes before it computes (`rewards.math_value`); what it does interrupt is any amount of
Python-level work, such as sympy's simplification loops. In training, the `RewardPool` also runs every reward
call in a killable worker process with its own per-call limit.
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import itertools
import os
import threading
import time
from collections.abc import Iterator


class TimeLimitExceeded(Exception):
    """The block did not finish within its time limit."""


class _Watchdog:
    def __init__(self) -> None:
        self._ids = itertools.count()
        self.reset()

    def reset(self) -> None:
        """Fresh state (also in a forked child, where the parent's watchdog thread does not exist)."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, dict]] = []
        self._thread: threading.Thread | None = None

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="rlvr-time-limit", daemon=True)
            self._thread.start()

    def arm(self, seconds: float) -> dict:
        token = {"thread": threading.get_ident(), "done": False, "fired": False}
        deadline = time.monotonic() + seconds
        with self._lock:
            self._ensure_thread()
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (deadline, next(self._ids), token))
            if earliest is None or deadline < earliest:
                # wake the watchdog only when it sleeps past this deadline: a wake-up costs this thread the GIL
                # for up to a switch interval (5 ms), which would be most of a fast grading
                self._wake.notify()
        return token

    def disarm(self, token: dict) -> None:
        with self._lock:
            token["done"] = True
            if token["fired"]:  # raised already, or still pending: make sure it cannot escape later
                _set_async_exc(token["thread"], None)

    def _run(self) -> None:
        with self._lock:
            while True:
                while self._heap and self._heap[0][2]["done"]:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                deadline, _, token = self._heap[0]
                now = time.monotonic()
                if now < deadline:
                    self._wake.wait(deadline - now)
                    continue
                heapq.heappop(self._heap)
                if not token["done"]:
                    token["fired"] = True
                    _set_async_exc(token["thread"], TimeLimitExceeded)


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else None)


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):  # POSIX: a forked child has no watchdog thread and maybe a held lock
    os.register_at_fork(after_in_child=_WATCHDOG.reset)


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise TimeLimitExceeded in this thread if the block runs longer than `seconds` (None: no limit)."""
    if seconds is None:
        yield
        return
    token = _WATCHDOG.arm(seconds)
    try:
        yield
    except TimeLimitExceeded:
        _WATCHDOG.disarm(token)
        raise
    finally:
        _WATCHDOG.disarm(token)
    if token["fired"]:  # delivered after the block's last bytecode: still a timeout
        raise TimeLimitExceeded(f"took longer than {seconds} s")
