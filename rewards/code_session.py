"""Assert-style tests against a sandboxed program, with the test itself never inside the sandbox.

Why this shape. The obvious harness appends each test (and a "passed" marker) to the program and runs the result
in the sandbox; the program then shares a process with its own verdict. It can read the expected values and the
marker from its source, from /proc/self or from its callers' frames, print the marker and exit 0 before the test
runs, return an object whose `__eq__` always says True, or patch `math.isclose`, `set` or `AssertionError` so the
test cannot fail. Each leak can be plugged one by one, but not closed. So the roles are split by construction:

* the sandbox runs only the program, under `rewards/code_harness.py`, which answers "call top-level name N with
  these arguments" and "send the value of name N" (one sandboxed process per completion, restarted after a call
  that hangs or kills it);
* the test runs here, in the reward worker (itself under the reward pool's time limit), in a namespace where the
  program's top-level functions are proxies making those calls (`RemoteFunction`), its plain values are copies,
  and the standard-library modules it imported are imported here. The assert, the `==`, `set`, `sorted`,
  `math.isclose`... are all ours: the program's definitions of builtin names are never visible to a test.

What crosses the boundary is plain data only (`code_harness.encode`/`decode`: exact builtin types, rebuilt here by
a strict decoder, no pickle, no eval), so an object with a rigged `__eq__` cannot cross, and the expected values,
which live only in the test, never enter the sandbox: to pass, a program must compute the answer. An early exit, a
crash, a hang (past the test's deadline), a result that is not plain data, or anything on the channel that is not
the answer to the request just sent, fails the call with `CallFailed`, which the test cannot catch into a pass.
Exceptions the program raises come back as the builtin exception class of the same name (else `RemoteError`), so
tests that expect an exception work.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import importlib
import json
import marshal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rewards import code_harness
from rewards.code_harness import PlainDataError, decode, encode
from rewards.sandbox import Limits, SandboxProcess, default_python

HARNESS_SOURCE = Path(code_harness.__file__).read_text()
# Runs the harness from code compiled by the sandbox's own interpreter (marshal is specific to its version).
_BOOT = "import marshal, sys; exec(marshal.loads(open(sys.argv.pop(1), 'rb').read()))"
_COMPILE = (
    "import marshal, sys; "
    "sys.stdout.buffer.write(marshal.dumps(compile(sys.stdin.read(), '/sandbox/harness.py', 'exec')))"
)
MAX_REPLY_BYTES = 4 << 20  # one reply from the sandbox; past this the sandbox is killed and the call fails
MAX_NAMES = 10_000  # top-level names a program may export
_BUILTIN_NAMES = frozenset(dir(builtins))
# Modules whose callables only compute on their arguments: a name the program imported from one of these (e.g.
# `from math import isclose`) is bound here to our own copy, so a test like `isclose(f(x), 1.5)` never hands its
# expected value to the program.
PURE_MODULES = frozenset(
    {"math", "cmath", "itertools", "functools", "_functools", "operator", "_operator", "collections", "_collections"}
    | {"heapq", "_heapq", "bisect", "_bisect", "statistics", "fractions", "decimal", "_decimal", "string", "re"}
    | {"copy", "unicodedata", "datetime", "_datetime"}
)


class CallFailed(BaseException):
    """A call into the program did not return or raise normally: it timed out, exited, crashed, broke the channel
    or returned something that is not plain data. A BaseException, so that a test's `except Exception:` does not
    swallow it; the test fails even if it does catch it."""


class Refused(CallFailed):
    """The program is alive but could not answer: no such name, a result that is not plain data, an exit."""


class RemoteError(Exception):
    """The program raised an exception whose class (named in the message) is not a builtin exception class."""


def _rebuilt_exception(reply: dict[str, Any]) -> Exception:
    """The program's exception as the builtin class of the same name, never anything but an Exception subclass."""
    name, message = reply.get("raised"), str(reply.get("message", ""))[:1000]
    klass = getattr(builtins, name, None) if isinstance(name, str) else None
    if isinstance(klass, type) and issubclass(klass, Exception):
        try:
            return klass.__new__(klass, message)  # __new__ alone: some builtin exceptions want several arguments
        except TypeError:
            pass
    return RemoteError(f"{str(reply.get('type', 'Exception'))[:100]}: {message}")


@functools.lru_cache(maxsize=8)
def compiled_harness(python: str) -> bytes | None:
    """The harness compiled once by `python` (the sandbox's interpreter, run here on our own source), so that no
    sandbox has to compile it again: that is about a third of the harness's start-up cost. None if it fails."""
    try:
        done = subprocess.run(
            [python, "-I", "-B", "-c", _COMPILE], input=HARNESS_SOURCE.encode(), capture_output=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 and done.stdout else None


def _harness(program: str, python: str) -> tuple[dict[str, str | bytes], tuple[str, ...]]:
    """The files and interpreter arguments of a sandbox that runs `program` under the harness."""
    compiled = compiled_harness(python)
    if compiled is None:
        return {"main.py": program, "harness.py": HARNESS_SOURCE}, ("{dir}/harness.py", "{dir}/main.py")
    return {"main.py": program, "harness.bin": compiled}, ("-c", _BOOT, "{dir}/harness.bin", "{dir}/main.py")


class ProgramSession:
    """The program, loaded once in a sandboxed harness, answering calls; restarted after a call that broke it."""

    def __init__(
        self,
        program: str,
        *,
        timeout_s: float,
        limits: Limits,
        allow_unsandboxed: bool = False,
        python: str | None = None,
    ) -> None:
        self.program = program
        self.timeout_s = timeout_s
        self.limits = limits
        self.allow_unsandboxed = allow_unsandboxed
        self.python = python
        self.exports: dict[str, list[Any]] = {}
        self.load_error: str | None = None  # the program cannot be loaded: every test fails
        self.deadline = 0.0  # for the calls of the current test
        self.call_failed = False  # a call of the current test failed: the test fails, and so do its later calls
        self._process: SandboxProcess | None = None
        self._buffer = bytearray()
        self._log_bytes = 0
        self._next_id = 0

    # -- the process -------------------------------------------------------------------------------------------
    def ensure_running(self) -> bool:
        """Start (or restart) the sandbox and load the program; False when the program cannot be loaded."""
        if self._process is not None or self.load_error is not None:
            return self.load_error is None
        self._process = SandboxProcess(
            *_harness(self.program, self.python or default_python()),
            limits=self.limits,
            allow_unsandboxed=self.allow_unsandboxed,
            python=self.python,
        )
        self._buffer.clear()
        self._log_bytes = 0
        try:
            ready = self._receive(time.monotonic() + self.timeout_s)
            self.exports = self._checked_exports(ready)
        except CallFailed as exc:
            self.load_error = f"the program did not load: {exc}"
        return self.load_error is None

    def _checked_exports(self, ready: dict[str, Any]) -> dict[str, list[Any]]:
        if ready.get("ready") is not True:
            raise self._broken(str(ready.get("error", "no ready message"))[:300])
        names = ready.get("names")
        if not isinstance(names, dict) or len(names) > MAX_NAMES:
            raise self._broken("malformed list of names")
        for name, kind in names.items():
            valid = isinstance(kind, list) and len(kind) == 2 and kind[0] in ("module", "callable", "value")
            if not (name.isidentifier() and valid and isinstance(kind[1], (str, type(None)))):
                raise self._broken("malformed list of names")
        return names

    def close(self) -> None:
        """End the sandbox: the harness exits when its requests end (the quickest way out); what is still running
        a moment later is killed."""
        if self._process is not None:
            process, self._process = self._process, None
            process.pipes.close_stdin_when_sent()
            process.stop(killed=None, grace_s=0.5)

    def _broken(self, reason: str) -> CallFailed:
        """Kill the sandbox (the next test restarts it) and describe why."""
        if self._process is not None:
            process, self._process = self._process, None
            process.stop(killed=reason)
        return CallFailed(reason)

    def __enter__(self) -> ProgramSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the channel -------------------------------------------------------------------------------------------
    def _receive(self, deadline: float) -> dict[str, Any]:
        """The next JSON line from the harness, reading the log beside it (bounded), until `deadline`."""
        assert self._process is not None
        scanned = 0
        while (newline := self._buffer.find(b"\n", scanned)) < 0:
            scanned = len(self._buffer)
            ready = self._process.pipes.step(deadline)
            if ready is None:
                raise self._broken(f"no answer within {self.timeout_s:g} s")
            for stream, data in ready:
                if stream == "stderr":  # the program's own prints
                    self._log_bytes += len(data)
                    if self._log_bytes > self.limits.max_output_bytes:
                        raise self._broken(f"printed more than {self.limits.max_output_bytes} bytes")
                elif not data:
                    raise self._broken("the program exited")
                else:
                    self._buffer += data
                    if len(self._buffer) > MAX_REPLY_BYTES:
                        raise self._broken(f"a reply longer than {MAX_REPLY_BYTES} bytes")
        line = bytes(self._buffer[:newline])
        del self._buffer[: newline + 1]
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            raise self._broken("a reply that is not JSON") from None
        if not isinstance(message, dict):
            raise self._broken("a reply that is not a JSON object")
        return message

    def begin_test(self) -> None:
        self.deadline = time.monotonic() + self.timeout_s
        self.call_failed = False

    def request(self, message: dict[str, Any]) -> Any:
        """Send a "call" or "get" request; the decoded value, or the program's exception raised here."""
        if self.call_failed:  # the test has failed already: no restart, no waiting
            raise CallFailed("an earlier call of this test failed")
        if not self.ensure_running():
            raise CallFailed(self.load_error)
        assert self._process is not None
        self._next_id += 1
        message["id"] = self._next_id
        request = marshal.dumps(message, 4)  # the harness loads requests with marshal: only ours, never its replies
        self._process.pipes.send(len(request).to_bytes(4, "big") + request)
        reply = self._receive(self.deadline)
        if reply.get("id") != self._next_id:
            raise self._broken("an answer to a request that was not sent")
        if "value" in reply:
            try:
                return decode(reply["value"], deadline=self.deadline)
            except PlainDataError as exc:
                raise self._broken(f"a reply that is not plain data: {exc}") from None
        if "raised" in reply:
            raise _rebuilt_exception(reply)
        raise Refused(str(reply.get("failed", "a malformed reply"))[:300])

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            encoded_args = [encode(arg) for arg in args]
            encoded_kwargs = [[key, encode(arg)] for key, arg in kwargs.items()]
        except (PlainDataError, RecursionError) as exc:
            raise CallFailed(f"the test passed {name} an argument that is not plain data: {exc}") from None
        return self.request({"call": name, "args": encoded_args, "kwargs": encoded_kwargs})


class RemoteFunction:
    """A top-level callable of the program, as a test sees it: calling it runs it in the sandbox."""

    def __init__(self, session: ProgramSession, name: str) -> None:
        self._session = session
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._session.call(self.__name__, args, kwargs)
        except CallFailed:
            self._session.call_failed = True
            raise

    def __repr__(self) -> str:
        return f"<{self.__name__} (runs in the sandbox)>"


def _local_module(name: str, origin: str | None) -> Any:
    """Our own copy of a standard-library module the program imported under its own name, else None."""
    if name == origin and name in sys.stdlib_module_names:
        try:
            return importlib.import_module(name)
        except ImportError:
            return None
    return None


def _local_callable(name: str, origin: str | None) -> Any:
    """Our own copy of a function or class the program imported by name from a pure standard-library module."""
    if origin in PURE_MODULES:
        try:
            value = getattr(importlib.import_module(origin), name, None)
        except ImportError:  # e.g. _decimal in a Python built without it
            return None
        return value if callable(value) else None
    return None


def _namespace(session: ProgramSession, names: set[str]) -> dict[str, Any]:
    """The globals a test runs in: real builtins, and for each other name it uses that the program defines, a
    proxy, a copy of its value, or our own standard-library module or function."""
    namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "__rlvr_test__"}
    for name in sorted(names - _BUILTIN_NAMES):
        if name.startswith("__"):
            continue  # __builtins__, __name__... are ours
        kind, origin = session.exports.get(name, (None, None))
        if kind == "module":
            module = _local_module(name, origin)
            if module is not None:
                namespace[name] = module
        elif kind == "callable":
            namespace[name] = _local_callable(name, origin) or RemoteFunction(session, name)
        elif kind == "value":
            try:
                namespace[name] = session.request({"get": name})
            except Refused:
                continue  # not plain data after all: the test sees no such name, and may not need it
            except CallFailed:
                session.call_failed = True
                raise
    return namespace


def run_assert_test(session: ProgramSession, test: str) -> bool:
    """Whether `test` (Python statements, e.g. `assert add(1, 2) == 3`) runs to the end without an exception and
    without a failed call, with `session.timeout_s` for all of its calls."""
    try:
        tree = ast.parse(test)
        code = compile(tree, "<test>", "exec")
    except (SyntaxError, ValueError):
        return False
    if not session.ensure_running():
        return False
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    session.begin_test()
    try:
        exec(code, _namespace(session, names))
    except (Exception, CallFailed):
        return False
    return not session.call_failed


def session_limits(limits: Limits, tests: int) -> Limits:
    """The limits of one sandbox that serves `tests` tests: the per-test wall clock for each call, and CPU time
    for the program's loading and every test."""
    return dataclasses.replace(limits, cpu_budget_s=limits.timeout_s * (tests + 1))
