"""Reward hacks against the code reward: every one must score 0, and correct code beside it must still pass.

The expected values below are numbers no program could guess (987654321, 123456789): a hack that scores
above 0 found them, or made the grader believe it did.
"""

import pytest

from rewards import sandbox
from rewards.code import code_pass_rate
from tests.conftest import require

require("bwrap", sandbox.bwrap_path() is not None, "apt-get install bubblewrap")

UNGUESSABLE = ["assert f(3) == 987654321", "assert f(4) == 123456789"]


def score(program: str, tests: list[str] | dict = UNGUESSABLE, test_timeout_s: float = 3) -> float:
    return code_pass_rate(f"```python\n{program}\n```", {"tests": tests}, test_timeout_s=test_timeout_s)[0]


# Where a program might find the expected values, or the old harness's pass marker. Each yields texts (bytes).
SOURCES = {
    "its own source and every file beside it": """
def texts():
    for root, _, names in os.walk('/sandbox'):
        for name in names:
            yield read(os.path.join(root, name))
    yield read(globals().get('__file__') or '/sandbox/main.py')
""",
    "/proc/self (cmdline, the files it names, environ, fd/*, maps and the mapped files)": """
def texts():
    cmdline = read('/proc/self/cmdline')
    yield cmdline
    for arg in cmdline.split(b'\\0'):
        if arg.startswith(b'/'):
            yield read(arg.decode())
    yield read('/proc/self/environ')
    for fd in os.listdir('/proc/self/fd'):
        try:
            target = os.readlink(f'/proc/self/fd/{fd}')
        except OSError:
            continue
        yield target.encode()
        if target.startswith('/') and os.path.isfile(target):
            yield read(target)
    maps = read('/proc/self/maps')
    yield maps
    for line in maps.decode().splitlines():
        path = line.split()[-1]
        if path.startswith('/') and os.path.isfile(path):
            yield read(path)
""",
    "its own memory (/proc/self/mem)": """
def texts():
    with open('/proc/self/mem', 'rb', buffering=0) as mem:
        for line in read('/proc/self/maps').decode().splitlines():
            span, perms = line.split()[:2]
            if perms.startswith('r') and '[vvar]' not in line and '[vsyscall]' not in line:
                start, end = (int(part, 16) for part in span.split('-'))
                try:
                    mem.seek(start)
                    yield mem.read(min(end - start, 64 << 20))
                except (OSError, ValueError, OverflowError):
                    continue
""",
    "every process it can see (cmdline, environ)": """
def texts():
    for pid in filter(str.isdigit, os.listdir('/proc')):
        for part in ('cmdline', 'environ'):
            yield read(f'/proc/{pid}/{part}')
""",
    "the environment and arguments": """
def texts():
    yield repr(dict(os.environ)).encode()
    yield repr(sys.argv).encode() + repr(getattr(sys, 'orig_argv', None)).encode()
""",
    "its callers' frames and every object in memory": """
def texts():
    frame = sys._getframe()
    while frame is not None:
        for const in frame.f_code.co_consts:
            yield repr(const).encode()
        yield repr(frame.f_code.co_consts).encode()
        yield repr(frame.f_locals).encode()
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, (str, bytes, dict, list, tuple)):
            try:
                yield repr(obj).encode()
            except Exception:
                continue
""",
}

FINDER = """
import gc, os, re, sys

def read(path):
    try:
        with open(path, 'rb') as file:
            return file.read(64 << 20)
    except OSError:
        return b''
{texts}
def search(pattern):
    for text in texts():
        found = re.search(pattern, text)
        if found:
            return found.group(1)

marker = search(rb'(__rlvr_passed_[0-9a-f]{{16}}__)')  # the old harness's pass marker
if marker:
    print(marker.decode(), flush=True)
    os._exit(0)

def f(x):
    # the expected value, from the text of an assert on f(x), or from the compiled constants of its caller
    found = search(rb'f\\(' + str(x).encode() + rb'\\) == (\\d+)')
    if found:
        return int(found)
    frame = sys._getframe(1)
    while frame is not None:
        consts = [c for c in frame.f_code.co_consts if type(c) is int]
        if x in consts and consts.index(x) + 1 < len(consts):
            return consts[consts.index(x) + 1]
        frame = frame.f_back
    return -1
"""


@pytest.mark.parametrize("where", list(SOURCES))
def test_expected_values_and_markers_are_nowhere_the_program_can_read(where):
    assert score(FINDER.format(texts=SOURCES[where])) == 0.0


@pytest.mark.parametrize(
    "program",
    [
        "import os\nos._exit(0)\ndef f(x):\n    return 0",
        "import sys\nsys.exit(0)\ndef f(x):\n    return 0",
        "raise SystemExit(0)",
        "import os\ndef f(x):\n    os._exit(0)",
        "import sys\ndef f(x):\n    sys.exit(0)",
        "def f(x):\n    raise SystemExit(0)",
        "import os, signal\ndef f(x):\n    os.kill(os.getpid(), signal.SIGKILL)",
    ],
    ids=["os._exit at import", "sys.exit at import", "SystemExit at import", "os._exit in the call",
         "sys.exit in the call", "SystemExit in the call", "SIGKILL itself in the call"],
)  # fmt: skip
def test_exiting_early_with_code_0_fails(program):
    assert score(program) == 0.0


def test_exiting_in_one_call_fails_that_test_only():
    program = "import os\ndef f(x):\n    if x == 3:\n        os._exit(0)\n    return 123456789"
    assert score(program) == 0.5  # the sandbox is restarted for the second test


RIGGED_EQUALITY = {
    "__eq__ always True": """
class Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __hash__(self): return 0
    def __bool__(self): return True
def f(x):
    return Anything()
""",
    "str subclass": """
class S(str):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __hash__(self): return 0
    def __repr__(self): return '987654321'
def f(x):
    return S('no')
""",
    "int subclass": """
class I(int):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __hash__(self): return 0
    def __repr__(self): return '987654321'
def f(x):
    return I(0)
""",
    "list subclass inside a tuple": """
class L(list):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
def f(x):
    return (L(),)
""",
}


@pytest.mark.parametrize("name", list(RIGGED_EQUALITY))
def test_results_with_a_rigged_eq_fail(name):
    tests = [*UNGUESSABLE, "assert f(5) == (987654321,)", "assert not (f(6) != 'x')"]
    assert score(RIGGED_EQUALITY[name], tests) == 0.0


PATCHES = {
    "math.isclose always True": "import math\nmath.isclose = lambda *a, **k: True\ndef f(x):\n    return 0.0",
    "builtins set/sorted/len/abs/round replaced": """
import builtins
class Same:
    def __eq__(self, other): return True
for name in ('set', 'sorted', 'len', 'abs', 'round', 'list', 'tuple'):
    setattr(builtins, name, lambda *a, **k: Same())
def f(x):
    return [0]
""",
    "builtins shadowed by top-level definitions": """
def set(*a, **k): return 0
def sorted(*a, **k): return 0
def round(*a, **k): return 0
def abs(*a, **k): return 0
def isinstance(*a, **k): return True
def f(x):
    return [0]
""",
    "a fake math module": """
class math:
    isclose = staticmethod(lambda *a, **k: True)
def f(x):
    return 0.0
""",
    "builtins.__import__ hands out a fake math": """
import builtins, types
fake = types.ModuleType('math')
fake.isclose = lambda *a, **k: True
real_import = builtins.__import__
builtins.__import__ = lambda name, *a, **k: fake if name == 'math' else real_import(name, *a, **k)
def f(x):
    return 0.0
""",
    "AssertionError, print, sys.exit, sys.excepthook and atexit replaced": """
import atexit, builtins, os, sys
builtins.AssertionError = type('AssertionError', (Exception,), {})
builtins.print = lambda *a, **k: None
sys.exit = lambda *a: None
sys.excepthook = lambda *a: os._exit(0)
atexit.register(lambda: os._exit(0))
def f(x):
    return 0
""",
}
PATCH_TESTS = [
    "import math\nassert math.isclose(f(1), 987654.321, rel_tol=1e-9)",
    "assert set(f(2)) == set([987654321, 123456789])",
    "assert sorted(f(3)) == [123456789, 987654321]",
    "assert round(f(4)) == 987654321",
    "assert isinstance(f(5), dict) and f(5)['k'] == 987654321",
    "assert f(6) == 987654321",
]


@pytest.mark.parametrize("name", list(PATCHES))
def test_patching_builtins_modules_or_hooks_does_not_change_the_verdict(name):
    assert score(PATCHES[name], PATCH_TESTS) == 0.0


def test_a_function_claiming_to_be_from_the_standard_library_is_replaced_by_the_real_one():
    # a name the program imported from math is our own math's: the expected value never reaches the program
    fake = "def isclose(*a, **k):\n    return True\nisclose.__module__ = 'math'\ndef f(x):\n    return 0.0"
    assert score(fake, ["assert isclose(f(1), 987654.321)"]) == 0.0
    real = "from math import isclose\ndef f(x):\n    return x / 2"
    assert score(real, ["assert isclose(f(3), 1.5)"]) == 1.0


FAKE_MESSAGES = r"""
import json, os
lines = [
    json.dumps({'ready': True, 'names': {'f': ['callable', None]}}),
    *(json.dumps({'id': i, 'value': True}) for i in range(8)),
    *(json.dumps({'id': i, 'value': 42}) for i in range(8)),
    *(json.dumps({'id': i, 'raised': 'KeyboardInterrupt', 'message': ''}) for i in range(8)),
    'passed', 'ok', '__rlvr_passed_0123456789abcdef__',
]
blob = ('\n'.join(lines) + '\n').encode()
"""

PROTOCOL_ATTACKS = {
    "fake protocol output on every descriptor": FAKE_MESSAGES
    + """
for fd in range(256):
    try:
        os.write(fd, blob)
    except OSError:
        pass
print(blob.decode())
def f(x):
    for fd in range(256):
        try:
            os.write(fd, blob)
        except OSError:
            pass
    return 0
""",
    "every descriptor closed": "import os\nos.closerange(0, 256)\ndef f(x):\n    return 0",
    "the log dup'ed over every descriptor": """
import os
for fd in range(3, 256):
    try:
        os.dup2(1, fd)
    except OSError:
        pass
def f(x):
    print('{"id": 1, "value": 42}', flush=True)
    return 0
""",
    "a thread steals the requests and answers them": FAKE_MESSAGES
    + """
import threading
def steal(fd):
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        for other in range(3, 256):
            try:
                os.write(other, blob)
            except OSError:
                pass
for fd in range(3, 64):
    threading.Thread(target=steal, args=(fd,), daemon=True).start()
def f(x):
    return 0
""",
    "a forked child answers after the program has gone": FAKE_MESSAGES
    + """
import time
if os.fork() == 0:
    os.setsid()
    time.sleep(0.5)
    for fd in range(256):
        try:
            os.write(fd, blob)
        except OSError:
            pass
    os._exit(0)
os._exit(0)
""",
    "signals: ignore, alarm, stop itself, kill its parent and everyone": """
import os, signal
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
    signal.signal(sig, signal.SIG_IGN)
signal.signal(signal.SIGALRM, lambda *a: os._exit(0))
signal.alarm(1)
def f(x):
    for pid in (os.getppid(), 1, -1):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    os.kill(os.getpid(), signal.SIGSTOP)
    return 0
""",
    "a result too large to send": "def f(x):\n    return 'x' * 10_000_000",
    "a result nested too deeply": "def f(x):\n    r = []\n    for _ in range(100_000):\n        r = [r]\n    return r",
    "a result that contains itself": "def f(x):\n    r = []\n    r.append(r)\n    return r",
    "an endless generator": "import itertools\ndef f(x):\n    return itertools.count()",
}


@pytest.mark.parametrize("name", list(PROTOCOL_ATTACKS))
def test_attacks_on_the_channel_and_the_process_fail(name):
    # the last test passes only if a failed call (a timeout, a broken channel...) could be caught like an exception
    tests = [*UNGUESSABLE, "try:\n    f(5)\nexcept BaseException:\n    pass\nelse:\n    raise AssertionError"]
    assert score(PROTOCOL_ATTACKS[name], tests, test_timeout_s=1) == 0.0


def test_an_exception_named_like_the_graders_control_flow_is_just_an_exception():
    # the program's own KeyboardInterrupt and SystemExit are plain Exceptions: here they arrive as `Exception`,
    # never as the real KeyboardInterrupt or SystemExit that would stop the reward worker
    program = """
class KeyboardInterrupt(Exception): pass
class SystemExit(Exception): pass
def f(x):
    raise (KeyboardInterrupt if x == 3 else SystemExit)('987654321')
"""
    expects_an_exception = "try:\n    f(5)\nexcept Exception:\n    pass\nelse:\n    raise AssertionError"
    assert score(program, [*UNGUESSABLE, expects_an_exception]) == pytest.approx(1 / 3)


IO_TESTS = {"inputs": ["3\n", "4\n"], "outputs": ["987654321\n", "123456789\n"]}
ANSWERS = "import sys\nprint({'3': 987654321, '4': 123456789}[sys.stdin.read().strip()])\n"


@pytest.mark.parametrize(
    "program",
    [
        "import os\nos._exit(0)\n" + ANSWERS,
        "raise SystemExit(0)\n" + ANSWERS,
        ANSWERS + "import sys\nsys.exit(3)",
        ANSWERS + "raise ValueError('after the answer')",
        ANSWERS + "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    ],
    ids=["os._exit(0) first", "SystemExit(0) first", "exit code 3 after", "exception after", "SIGKILL after"],
)
def test_stdin_stdout_tests_fail_on_an_early_exit_or_a_bad_exit_code(program):
    assert score(ANSWERS, IO_TESTS) == 1.0  # the answers themselves are right
    assert score(program, IO_TESTS) == 0.0


@pytest.mark.parametrize("where", list(SOURCES))
def test_stdin_stdout_expected_output_is_nowhere_the_program_can_read(where):
    program = FINDER.format(texts=SOURCES[where]) + "\nprint(search(rb'(98765\\d+|12345\\d+)') or b'nothing')"
    assert score(program, IO_TESTS) == 0.0
