"""Hostile programs against the code sandbox. Every test also checks that nothing is left running (conftest.py).

Traffic goes to loopback only; victim files are created in $HOME, this repository and /usr only for the
duration of a test, and removed in a `finally`.
"""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rewards import sandbox
from rewards.code import execute
from rewards.sandbox import SandboxUnavailable
from tests.conftest import ROOT, require
from tests.helpers.sandbox_processes import leftover_processes

require("bwrap", sandbox.bwrap_path() is not None, "apt-get install bubblewrap")


def test_a_normal_program_runs():
    result = execute("print(sum(map(int, input().split())))", stdin="2 40")
    assert result.ok and result.stdout == "42\n" and result.sandboxed


def test_fork_bomb():
    start = time.monotonic()
    result = execute(
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", timeout_s=2
    )
    assert not result.ok and time.monotonic() - start < 10
    assert subprocess.run(["true"]).returncode == 0  # the host can still start processes


def test_memory_bomb():
    start = time.monotonic()
    result = execute("blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))\n", memory_mb=256)
    assert not result.ok and "MemoryError" in result.stderr
    assert time.monotonic() - start < 5


def test_one_huge_allocation():
    result = execute("x = bytearray(10**10)", memory_mb=256)
    assert "MemoryError" in result.stderr


def test_infinite_loop_is_killed_at_the_deadline():
    result = execute("while True:\n    pass\n", timeout_s=1)
    assert result.timed_out and result.killed == "timeout" and result.returncode is None
    assert 0.9 < result.wall_s < 3


def test_sleeping_past_the_limit():
    result = execute("import time\ntime.sleep(60)\nprint('woke')", timeout_s=1)
    assert result.timed_out and "woke" not in result.stdout and result.wall_s < 3


def test_detached_busy_child_dies_with_the_sandbox():
    program = "import os\nif os.fork() == 0:\n    os.setsid()\n    while True:\n        pass\nprint('parent exits')\n"
    result = execute(program, timeout_s=3)
    assert "parent exits" in result.stdout
    # the autouse fixture asserts the spinning child is gone


def test_a_double_forked_child_that_became_another_binary_dies_with_the_sandbox(nothing_left_behind):
    # the grandchildren leave the program's session and replace themselves with binaries whose command lines no
    # longer mention the sandbox; the program waits until both run, so they are really there when it exits
    program = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv('/bin/sleep', ['sleep', '1000'])
    if os.fork() == 0:
        os.execv('/usr/bin/python3', ['python3', '-c', 'import time; time.sleep(1000)'])
    os._exit(0)

def running():
    found = set()
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            cmdline = open(f'/proc/{pid}/cmdline', 'rb').read()
        except OSError:
            continue
        found |= {name for name in (b'sleep', b'python3') if cmdline.startswith(name + b'\\0')}
    return found

deadline = time.monotonic() + 4
while running() != {b'sleep', b'python3'} and time.monotonic() < deadline:
    time.sleep(0.01)
print('both running' if running() == {b'sleep', b'python3'} else 'not started')
"""
    result = execute(program, timeout_s=6)
    assert result.ok and result.stdout == "both running\n", result.stderr
    assert os.geteuid() != 0 or nothing_left_behind  # as root, the program ran under a uid the check watches
    # the autouse fixture asserts that neither re-executed grandchild is left


def test_the_leftover_check_sees_a_process_of_the_sandbox_user_running_another_binary(nothing_left_behind):
    """The check must find a leftover by who it is, not by its command line: a process we start ourselves outside
    any sandbox, as a sandbox uid (root) or in another pid namespace (not root), running `/bin/sleep`."""
    if os.geteuid() == 0:
        uid = sandbox._execution_uid()
        leaked = subprocess.Popen(["/bin/sleep", "1000"], preexec_fn=lambda: (os.setgid(uid), os.setuid(uid)))
    else:
        bwrap = sandbox.bwrap_path()
        command = [bwrap, "--unshare-pid", "--die-with-parent", "--dev-bind", "/", "/", "/bin/sleep", "1000"]
        leaked = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 5  # the namespaced sleep is bwrap's grandchild, started after Popen returns

        def seen() -> bool:
            return any(line.endswith("sleep 1000") for line in leftover_processes(nothing_left_behind))

        while not seen() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen()
    finally:
        leaked.kill()
        leaked.wait()


def test_gigabyte_of_stdout_is_cut_off():
    program = "import sys\nchunk = 'x' * 2**20\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n"
    start = time.monotonic()
    result = execute(program, timeout_s=20)
    assert result.killed == "output_limit"
    assert len(result.stdout) <= 1_000_000 and time.monotonic() - start < 10


def _run_in_thread(uids: set[int], wait_s: float, **kwargs) -> dict:
    """`execute(**kwargs)` in a thread; if it has not returned after `wait_s`, kill the sandboxed program so the
    thread ends (a grader that blocks would otherwise block this test forever) and report that it hung."""
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(result=execute(**kwargs)), daemon=True)
    thread.start()
    thread.join(wait_s)
    outcome["hung"] = thread.is_alive()
    if outcome["hung"]:
        for line in leftover_processes(uids):
            os.kill(int(line.split()[0]), signal.SIGKILL)
        thread.join(10)
    return outcome


def test_a_megabyte_of_unread_stdin_does_not_block_the_grader(nothing_left_behind):
    # a pipe holds 64 KiB: writing 1 MiB to a program that never reads used to block before the clock started
    sleeper = "import time\ntime.sleep(3600)\n"
    outcome = _run_in_thread(nothing_left_behind, 8.0, program=sleeper, stdin="x" * 2**20, timeout_s=1)
    assert not outcome["hung"], "the grader blocked writing stdin to a program that does not read it"
    result = outcome["result"]
    assert result.timed_out and result.returncode is None and result.wall_s < 3


def test_a_program_that_reads_a_megabyte_of_stdin_gets_all_of_it():
    data = "".join(chr(ord("a") + i % 26) for i in range(2**20 - 1)) + "\n"
    program = "import hashlib, sys\ndata = sys.stdin.buffer.read()\nprint(len(data), hashlib.sha256(data).hexdigest())"
    result = execute(program, stdin=data, timeout_s=10)
    assert result.ok, result.stderr
    assert result.stdout.split() == [str(2**20), hashlib.sha256(data.encode()).hexdigest()]


def _victim_directories() -> list[Path]:
    """Host places a program could see or reach: $HOME, this repository, the sandbox interpreter's own directory
    and its prefix, and /usr (read-only bound into the sandbox)."""
    interpreter = Path(sandbox.default_python()).resolve()
    places = [Path.home(), ROOT, interpreter.parent, interpreter.parent.parent, Path("/usr")]
    return [place / f".rlvr-victim-{os.getpid()}" for place in dict.fromkeys(places)]


def test_host_files_cannot_be_created_overwritten_or_deleted():
    # Each victim directory and file is world-writable, so file permissions alone (the sandbox's unprivileged
    # uid) would not protect them: only what the sandbox mounts, and how, does.
    victims = _victim_directories()
    try:
        for victim in victims:
            victim.mkdir()
            victim.chmod(0o777)
            (victim / "victim.txt").write_text("keep me")
            (victim / "victim.txt").chmod(0o666)
        program = f"""
import os, shutil
def attempt(what, action):
    try:
        action()
        print('succeeded', what)
    except OSError as exc:
        print('refused', what, type(exc).__name__)
for victim in {[str(v) for v in victims]!r}:
    file = victim + '/victim.txt'
    print('visible' if os.path.exists(file) else 'invisible', victim)
    attempt('create', lambda: open(victim + '/new.txt', 'x').write('pwned'))
    attempt('create beside', lambda: open(os.path.dirname(victim) + '/rlvr-pwned-{os.getpid()}', 'x').write('x'))
    attempt('overwrite', lambda: open(file, 'w').write('pwned'))
    attempt('append', lambda: open(file, 'a').write('pwned'))
    attempt('rename', lambda: os.rename(file, victim + '/renamed.txt'))
    attempt('delete', lambda: os.remove(file))
    attempt('mkdir', lambda: os.mkdir(victim + '/sub'))
    attempt('rmtree', lambda: shutil.rmtree(victim))
attempt('delete own source', lambda: os.remove('/sandbox/main.py'))
open('/tmp/inside.txt', 'w').write('private tmp is fine')
print(open('/tmp/inside.txt').read())
"""
        result = execute(program)
        for victim in victims:
            assert sorted(os.listdir(victim)) == ["victim.txt"], victim
            assert (victim / "victim.txt").read_text() == "keep me"
            assert not (victim.parent / f"rlvr-pwned-{os.getpid()}").exists()
    finally:
        for victim in victims:
            shutil.rmtree(victim, ignore_errors=True)
            (victim.parent / f"rlvr-pwned-{os.getpid()}").unlink(missing_ok=True)
    assert result.ok, result.stderr
    lines = result.stdout.splitlines()
    assert not [line for line in lines if line.startswith("succeeded")]
    assert sum(line.startswith("refused") for line in lines) == 8 * len(victims) + 1
    # /usr and the interpreter are in the sandbox (read-only): the victims there were seen and still refused
    assert f"visible /usr/.rlvr-victim-{os.getpid()}" in lines
    assert f"invisible {Path.home()}/.rlvr-victim-{os.getpid()}" in lines
    assert f"invisible {ROOT}/.rlvr-victim-{os.getpid()}" in lines
    assert "private tmp is fine" in lines and not Path("/tmp/inside.txt").exists()


def test_host_environment_and_home_are_invisible(monkeypatch):
    monkeypatch.setenv("RLVR_SECRET_TOKEN", "hunter2")
    home_secret = Path.home() / f".rlvr_sandbox_test_{os.getpid()}"
    home_secret.write_text("private key")
    try:
        program = f"""
import os
print(sorted(os.environ))
print('token' if 'hunter2' in str(os.environ) else 'no token')
for path in ({str(home_secret)!r}, os.path.expanduser('~/.bashrc'), '/etc/passwd', '/proc/1/environ'):
    try:
        print('read', path, open(path).read()[:20])
    except OSError as exc:
        print('cannot read', path, type(exc).__name__)
"""
        result = execute(program)
    finally:
        home_secret.unlink()
    assert result.ok, result.stderr
    assert "no token" in result.stdout and "hunter2" not in result.stdout
    lines = result.stdout.splitlines()
    assert "private key" not in result.stdout
    assert f"cannot read {home_secret} FileNotFoundError" in lines  # it tried, and could not
    assert "cannot read /etc/passwd FileNotFoundError" in lines


def test_no_network_even_to_loopback():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    program = f"""
import socket
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'exfiltrated')
    print('connected')
except OSError as exc:
    print('no network', type(exc).__name__)
"""
    result = execute(program)
    with pytest.raises(TimeoutError):
        listener.accept()
    listener.close()
    assert "no network" in result.stdout and "connected" not in result.stdout


def test_killing_the_parent_or_the_trainer_does_nothing():
    program = f"""
import os, signal
for pid in (os.getppid(), 1, {os.getpid()}, -1):
    try:
        os.kill(pid, signal.SIGKILL)
        print('sent', pid)
    except OSError as exc:
        print('refused', pid, type(exc).__name__)
print('still here')
"""
    result = execute(program)
    assert "refused " + str(os.getpid()) in result.stdout  # the trainer's pid does not even exist in there
    # we are alive to assert this; the sandbox's own init ignores signals from inside its namespace


def test_ctypes_tricks():
    sentinel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        program = """
import ctypes, os
libc = ctypes.CDLL(None)
print('setuid', libc.setuid(0), 'uid', os.getuid())
print('kill all', libc.kill(-1, 9))
ctypes.string_at(0)
"""
        result = execute(program)
        assert sentinel.poll() is None  # a host process survives kill(-1, SIGKILL) from the sandbox
    finally:
        sentinel.send_signal(signal.SIGKILL)
        sentinel.wait()
    assert result.returncode != 0  # the segfault (or its own kill) ended the program, nothing else


def test_missing_bwrap_refuses_unless_allowed(monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    with pytest.raises(SandboxUnavailable, match="allow_unsandboxed"):
        execute("print(1)")
    result = execute("print(1)", allow_unsandboxed=True)
    assert result.ok and result.stdout == "1\n" and not result.sandboxed
