"""Run a function in a persistent helper process that is killed if it overruns its time limit.

Why a process and not `signal.alarm`: sympy evaluates `9^{9^{9^{9}}}` inside CPython's big-integer C code,
where no signal handler runs until it returns (which can be hours), and an alarm only works in the main
thread. A process can always be killed. The helper is started once and reused, so a call costs a pipe round
trip (tens of microseconds) plus the work; after a timeout it is killed and a fresh one starts on the next
call. It also caps its own address space, so a memory bomb fails inside it instead of the caller.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import resource
from multiprocessing.connection import Connection
from typing import Any

MEMORY_LIMIT_BYTES = 2 * 1024**3


def _serve(conn: Connection, parent_pid: int, memory_limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    functions: dict[str, Any] = {}
    while True:
        if not conn.poll(1.0):
            if os.getppid() != parent_pid:  # the caller died (even by SIGKILL): do not linger
                return
            continue
        try:
            ref, args = conn.recv()
        except EOFError:
            return
        try:
            if ref not in functions:
                module, _, name = ref.partition(":")
                functions[ref] = getattr(importlib.import_module(module), name)
            conn.send((True, functions[ref](*args)))
        except BaseException as exc:  # report, keep serving: one bad input must not kill the helper
            conn.send((False, f"{type(exc).__name__}: {exc}"[:500]))


class TimeLimitExceeded(Exception):
    """The call did not finish in time; the helper process was killed."""


class Sidecar:
    """A killable helper process running `module:function` calls one at a time."""

    def __init__(self, memory_limit: int = MEMORY_LIMIT_BYTES) -> None:
        self.memory_limit = memory_limit
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None

    def _start(self) -> Connection:
        # forkserver: never fork the caller, which may hold threads (torch, pebble) and a large heap.
        ctx = multiprocessing.get_context("forkserver")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, os.getpid(), self.memory_limit), daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        return parent

    def call(self, ref: str, *args: Any, timeout_s: float) -> Any:
        """`module:function(*args)` in the helper; raises TimeLimitExceeded or RuntimeError (its exception)."""
        conn = self._conn if self._process is not None and self._process.is_alive() else self._start()
        try:
            conn.send((ref, args))
            ready = conn.poll(timeout_s)
        except (BrokenPipeError, EOFError, OSError):
            ready = False
        if not ready:
            self.kill()
            raise TimeLimitExceeded(f"{ref} took longer than {timeout_s}s")
        try:
            ok, value = conn.recv()
        except EOFError:  # the helper died (e.g. its memory limit): start a new one next time
            self.kill()
            raise RuntimeError(f"{ref}: helper process died") from None
        if not ok:
            raise RuntimeError(value)
        return value

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None
