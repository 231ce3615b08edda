"""The math verifier gives the same verdicts wherever it is called, and starts no process of its own.

Each calling context runs the same cases in a small subprocess script (so the context is real: a daemonic
multiprocessing.Pool worker, `python -c`, `python -` fed on stdin, a script with no `__main__` guard, code
exec'd the way a notebook runs a cell) and prints the verdicts as JSON; they must equal the verdicts computed
here. The cases include one that reaches sympy (an integral) and a power tower that must be refused.
"""

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rewards.math import grade
from tests.conftest import ROOT

CASES = [
    ("\\boxed{\\frac12}", "0.5"),
    ("\\boxed{2\\sqrt{5}}", "\\sqrt{20}"),
    ("\\boxed{x > 3}", "(3, \\infty)"),
    ("\\boxed{5 \\text{ or more}}", "5"),
    ("\\boxed{1:00}", "12:00"),
    ("\\boxed{\\int_0^1 x\\,dx}", "\\frac{1}{2}"),
    ("\\boxed{\\int_0^1 x\\,dx}", "\\frac{1}{3}"),
    ("\\boxed{9^{9^{9^{9}}}}", "5"),
    ("\\boxed{y = 2x + 1}", "2x - y + 1 = 0"),
]
EXPECTED = [True, True, True, False, False, True, False, False, True]  # decided by hand

PRELUDE = f"import json, sys\nsys.path.insert(0, {str(ROOT)!r})\nCASES = {CASES!r}\n"


def run_python(args: list[str], stdin: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args], input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd, env=env
    )


def verdicts_printed(proc: subprocess.CompletedProcess) -> list[list[bool]]:
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("[")]


def test_the_cases_here_in_this_process():
    assert [grade(p, g) for p, g in CASES] == EXPECTED


def test_threads_give_the_same_verdicts():
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: grade(*case), CASES * 3))
    assert results == EXPECTED * 3


def test_python_dash_c():
    code = PRELUDE + "from rewards.math import grade\nprint(json.dumps([grade(p, g) for p, g in CASES]))\n"
    assert verdicts_printed(run_python(["-c", code])) == [EXPECTED]


def test_python_dash_script_on_stdin():
    code = PRELUDE + "from rewards.math import grade\nprint(json.dumps([grade(p, g) for p, g in CASES]))\n"
    assert verdicts_printed(run_python(["-"], stdin=code)) == [EXPECTED]


def test_script_without_a_main_guard_runs_once(tmp_path):
    script = tmp_path / "grade_it.py"
    script.write_text(PRELUDE + "from rewards.math import grade\nprint(json.dumps([grade(p, g) for p, g in CASES]))\n")
    assert verdicts_printed(run_python([str(script)], cwd=tmp_path)) == [EXPECTED]  # printed once, not twice


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_daemonic_pool_workers(tmp_path, start_method):
    """multiprocessing.Pool workers are daemonic: they may not start processes of their own."""
    script = tmp_path / "pool.py"
    script.write_text(
        PRELUDE
        + textwrap.dedent(f"""
        import multiprocessing
        from rewards.math import grade

        def verdict(case):
            assert multiprocessing.current_process().daemon
            return grade(*case)

        if __name__ == "__main__":
            with multiprocessing.get_context({start_method!r}).Pool(2) as pool:
                print(json.dumps(pool.map(verdict, CASES)))
        """)
    )
    assert verdicts_printed(run_python([str(script)], cwd=tmp_path)) == [EXPECTED]


def test_notebook_style_exec_without_a_file():
    """A notebook cell: code compiled from a string, run in a __main__ namespace that has no __file__."""
    cell = "from rewards.math import grade\nprint(json.dumps([grade(p, g) for p, g in CASES]))\n"
    namespace = "{'__name__': '__main__', 'CASES': CASES, 'json': json}"
    code = PRELUDE + f"exec(compile({cell!r}, '<ipython-input-1>', 'exec'), {namespace})\n"
    assert verdicts_printed(run_python(["-c", code])) == [EXPECTED]


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads /proc")
def test_grading_starts_no_process():
    code = PRELUDE + textwrap.dedent("""
        import multiprocessing, os
        from rewards.math import grade
        verdicts = [grade(p, g) for p, g in CASES]
        children = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = open(f"/proc/{pid}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                children.append(pid)
        print(json.dumps([verdicts, children, len(multiprocessing.active_children())]))
        """)
    (result,) = verdicts_printed(run_python(["-c", code]))
    assert result == [EXPECTED, [], 0]
