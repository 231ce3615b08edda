"""Run untrusted, model-written Python in a bubblewrap sandbox with resource limits and a wall-clock kill.

Layers, each stopping what the others might miss:

* bubblewrap: new user, pid, network, IPC, UTS and cgroup namespaces (no network at all, no other process
  visible or signalable), a read-only root built from `/usr` and the interpreter only (no `/etc`, no
  `$HOME`, no project files), a private tmpfs `/tmp`, a scrubbed environment, all capabilities dropped,
  `--die-with-parent`, and a new session (no terminal injection).
* rlimits set before exec: CPU seconds, address space, processes, file size, open files, no core dumps.
  When rlvr runs as root each execution also drops to its own unprivileged uid, because Linux does not
  enforce the process limit for root (a fork bomb would otherwise only be stopped by the clock), and a
  shared uid would let one fork bomb starve the sandboxes running beside it.
* a wall clock: on timeout the whole process group is SIGKILLed; the pid namespace guarantees that
  anything the program left behind, even a `setsid` child, dies with the namespace's init.
* bounded output capture: reading stops (and the sandbox is killed) past `max_output_bytes`, so 1 GB of
  stdout costs a megabyte, not a gigabyte.

Without `bwrap` nothing runs unless the caller explicitly allows unsandboxed execution (rlimits and the
clock still apply then, but not the isolation).
"""

from __future__ import annotations

import contextlib
import os
import resource
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# When rlvr runs as root, each execution runs as a fresh unprivileged uid from this range, so the process limit
# of one program (RLIMIT_NPROC counts every task of a uid) is never shared with a concurrent one.
SANDBOX_UID_BASE = 200_000
SANDBOX_UID_SPAN = 1_000_000


class SandboxUnavailable(RuntimeError):
    """bwrap is missing (or unusable) and unsandboxed execution was not allowed."""


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 5.0  # wall clock
    memory_mb: int = 512  # address space per process
    max_processes: int = 16  # tasks of the sandbox user (threads count)
    max_file_mb: int = 16  # largest file the program may write (in its private /tmp)
    max_open_files: int = 64
    max_output_bytes: int = 1_000_000  # stdout + stderr kept; beyond this the program is killed
    cpu_budget_s: float | None = None  # CPU seconds for the whole process; default: the wall clock + 1

    @property
    def cpu_s(self) -> int:
        return int(self.cpu_budget_s or self.timeout_s) + 1


@dataclass
class ExecResult:
    returncode: int | None  # None when killed before it exited on its own
    stdout: str
    stderr: str
    timed_out: bool
    killed: str | None  # "timeout", "output_limit" or None
    wall_s: float
    sandboxed: bool

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.killed is None


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def default_python() -> str:
    """The interpreter programs run with: the system one when it exists (readable by any uid, stdlib only,
    none of the trainer's packages), else this interpreter's base installation."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def _execution_uid() -> int | None:
    """The fresh unprivileged uid an execution runs as when rlvr is root (None otherwise)."""
    return SANDBOX_UID_BASE + secrets.randbelow(SANDBOX_UID_SPAN) if os.geteuid() == 0 else None


def _world_traversable(path: str) -> bool:
    p = Path(path).resolve()
    return all(os.stat(parent).st_mode & 0o001 for parent in [*reversed(p.parents), p.parent])


def _tasks_of_user(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


def _bwrap_args(python: str, program_dir: str) -> list[str]:
    args = [
        bwrap_path() or "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop", "ALL",
        "--hostname", "sandbox",
        "--clearenv",
        "--setenv", "PATH", "/usr/bin:/bin",
        "--setenv", "HOME", "/tmp",
        "--setenv", "LANG", "C.UTF-8",
        "--ro-bind", "/usr", "/usr",
    ]  # fmt: skip
    for top in ("/bin", "/lib", "/lib64", "/lib32", "/sbin"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    prefix = str(Path(python).resolve().parent.parent)
    if not prefix.startswith("/usr"):
        args += ["--ro-bind", prefix, prefix]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind", program_dir, "/sandbox"]
    args += ["--remount-ro", "/", "--chdir", "/tmp", "--"]
    return args


def _preexec(limits: Limits, drop_to: int | None, nproc: int):
    def apply() -> None:
        os.setsid()  # own process group: the wall-clock kill takes the whole group
        mb = 1024 * 1024
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_mb * mb, limits.max_file_mb * mb))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files, limits.max_open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if drop_to is not None:
            os.setgroups([])
            os.setgid(drop_to)
            os.setuid(drop_to)
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    return apply


class Pipes:
    """The parent's ends of a sandboxed process's stdin, stdout and stderr, moved without ever blocking: input is
    written only as fast as the program reads it, inside the same select loop that reads its output, so a program
    that never reads its stdin cannot stall the grader past the deadline (a pipe holds only 64 KiB)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self._stdin = proc.stdin
        self._pending = b""
        self._closing = False  # close stdin once the queued input is written
        self._selector = selectors.DefaultSelector()
        self._selector.register(proc.stdout, selectors.EVENT_READ, "stdout")
        self._selector.register(proc.stderr, selectors.EVENT_READ, "stderr")
        os.set_blocking(self._stdin.fileno(), False)

    def send(self, data: bytes) -> None:
        """Queue `data` for the program's stdin; it is written by later `step` calls."""
        if self._stdin.closed or not data:
            return
        if not self._pending:
            self._selector.register(self._stdin, selectors.EVENT_WRITE, "stdin")
        self._pending += data

    def close_stdin_when_sent(self) -> None:
        """End of input: close stdin now, or as soon as the queued input has been written."""
        self._closing = True
        if not self._pending:
            self._close_stdin()

    @property
    def reading(self) -> bool:
        """Whether stdout or stderr is still open."""
        return any(key.data != "stdin" for key in self._selector.get_map().values())

    def step(self, deadline: float) -> list[tuple[str, bytes]] | None:
        """Wait (until `deadline` at most) for the pipes to be ready; write what stdin accepts; return the
        (stream, bytes) read, where b"" means that stream closed; None once the deadline has passed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        chunks = []
        for key, _ in self._selector.select(timeout=remaining):
            if key.data == "stdin":
                self._write_some()
                continue
            data = os.read(key.fileobj.fileno(), 65536)
            if not data:
                self._selector.unregister(key.fileobj)
            chunks.append((key.data, data))
        return chunks

    def _write_some(self) -> None:
        try:
            written = os.write(self._stdin.fileno(), self._pending[:65536])
        except BlockingIOError:
            return
        except OSError:  # the program closed its stdin or exited: the rest of the input is not wanted
            written = len(self._pending)
        self._pending = self._pending[written:]
        if not self._pending:
            self._selector.unregister(self._stdin)
            if self._closing:
                self._close_stdin()

    def _close_stdin(self) -> None:
        with contextlib.suppress(OSError):
            self._stdin.close()

    def close(self) -> None:
        self._selector.close()
        self._close_stdin()


def _collect(pipes: Pipes, stdin: bytes, limits: Limits) -> tuple[bytes, bytes, str | None]:
    """Feed stdin, read stdout/stderr until exit, the deadline, or the output cap; returns (out, err, killed)."""
    deadline = time.monotonic() + limits.timeout_s
    chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    total = 0
    killed = None
    pipes.send(stdin)
    pipes.close_stdin_when_sent()
    while pipes.reading and not killed:
        ready = pipes.step(deadline)
        if ready is None:
            killed = "timeout"
            break
        for stream, data in ready:
            chunks[stream].append(data[: max(0, limits.max_output_bytes - total)])
            total += len(data)
            if total > limits.max_output_bytes:
                killed = "output_limit"
    return b"".join(chunks["stdout"]), b"".join(chunks["stderr"]), killed


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _stop(proc: subprocess.Popen, killed: str | None, grace_s: float) -> None:
    """End the sandbox and reap it. Kill order matters: the namespace's init (bwrap's child) first, which
    takes every process in the namespace with it, so the outer bwrap can reap it and exit; killing the
    outer bwrap first would orphan the init to a pid 1 that may be slow to reap (zombies hold the uid's
    process count)."""
    if killed is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)  # output closed: the program is exiting, let bwrap finish normally
    if proc.poll() is None:
        for child in _children(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2.0)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything left in the group (unsandboxed runs)
    proc.wait()


class SandboxProcess:
    """A Python interpreter running under the sandbox and limits, with non-blocking pipes (`pipes`) on its stdin,
    stdout and stderr. `files` are written to a fresh directory, read-only at /sandbox inside the sandbox; the
    interpreter's arguments are `argv`, where "{dir}" stands for that directory as the program sees it. Each
    process runs as its own fresh uid when we are root. `stop()` ends it, reaps it and removes the directory."""

    def __init__(
        self,
        files: dict[str, str | bytes],
        argv: tuple[str, ...] = ("{dir}/main.py",),
        *,
        limits: Limits,
        allow_unsandboxed: bool = False,
        python: str | None = None,
    ) -> None:
        python = python or default_python()
        self.sandboxed = bwrap_path() is not None
        if not self.sandboxed and not allow_unsandboxed:
            raise SandboxUnavailable(
                "bubblewrap (bwrap) is not installed, so model-written code cannot be sandboxed: install it "
                "(apt-get install bubblewrap) or set reward.code.allow_unsandboxed=true to run code unisolated"
            )
        if os.geteuid() == 0 and not _world_traversable(python):
            raise SandboxUnavailable(
                f"running as root, the sandbox drops to an unprivileged uid, which cannot run {python}; "
                "set reward.code.python to a system interpreter such as /usr/bin/python3"
            )
        drop_to = _execution_uid()
        uid = drop_to if drop_to is not None else os.getuid()
        # the process limit counts every task of the user; a fresh uid has none yet
        nproc = limits.max_processes + (_tasks_of_user(uid) if drop_to is None else 0)
        self._directory = tempfile.TemporaryDirectory(prefix="rlvr-sandbox-")
        program_dir = self._directory.name
        os.chmod(program_dir, 0o755)
        for name, content in files.items():
            path = Path(program_dir) / name
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
            os.chmod(path, 0o644)
        seen_as = "/sandbox" if self.sandboxed else program_dir
        args = [arg.replace("{dir}", seen_as) for arg in argv]
        if self.sandboxed:
            command = [*_bwrap_args(python, program_dir), python, "-I", "-B", *args]
            env, cwd = {"PATH": "/usr/bin:/bin"}, "/"
        else:
            command = [python, "-I", "-B", *args]
            env, cwd = {"PATH": "/usr/bin:/bin", "HOME": program_dir, "LANG": "C.UTF-8"}, program_dir
        self.started = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=cwd,
                preexec_fn=_preexec(limits, drop_to, nproc),
                close_fds=True,
            )
        except BaseException:
            self._directory.cleanup()
            raise
        self.pipes = Pipes(self.proc)

    def stop(self, killed: str | None, grace_s: float = 0.0) -> int | None:
        """End the process (waiting up to `grace_s` first when `killed` is None: its output closed, it is exiting)
        and everything it started; returns its exit code, or None when it was killed."""
        try:
            _stop(self.proc, killed, grace_s)
        finally:
            self.pipes.close()
            for stream in (self.proc.stdout, self.proc.stderr):
                stream.close()
            self._directory.cleanup()
        return None if killed else self.proc.returncode


def run_python(
    program: str,
    *,
    stdin: str = "",
    limits: Limits | None = None,
    allow_unsandboxed: bool = False,
    python: str | None = None,
) -> ExecResult:
    """Run `program` (Python source) under the sandbox and limits; never raises for what the program does."""
    limits = limits or Limits()
    process = SandboxProcess({"main.py": program}, limits=limits, allow_unsandboxed=allow_unsandboxed, python=python)
    killed = "error"
    try:
        out, err, killed = _collect(process.pipes, stdin.encode(), limits)
    finally:
        grace_s = max(0.1, limits.timeout_s - (time.monotonic() - process.started))
        returncode = process.stop(killed, grace_s)
    return ExecResult(
        returncode=returncode,
        stdout=out.decode(errors="replace"),
        stderr=err.decode(errors="replace"),
        timed_out=killed == "timeout",
        killed=killed,
        wall_s=time.monotonic() - process.started,
        sandboxed=process.sandboxed,
    )
