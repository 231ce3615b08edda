"""Code rewards: run the completion's last fenced Python block against the sample's tests, sandboxed.

Two test formats, as in the common datasets:
* assert-style (MBPP `test_list`, HumanEval-like): a list of statements such as `assert add(1, 2) == 3`. The
  program runs in one sandbox per completion and the tests run here, outside it, calling the program's functions
  across the boundary with plain data (`rewards.code_session` says why: the program never sees an expected value
  and cannot touch the verdict). A test fails on its own; a call that hangs or kills the program costs that test,
  and the program is restarted for the next one.
* stdin/stdout cases (APPS, TACO, CodeContests): `{"inputs": [...], "outputs": [...]}`. Each case runs the
  program in its own sandboxed process (`rewards.sandbox`), which never sees the expected output; it passes when
  the program exits 0 within the limits and its output matches.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rewards.code_session import ProgramSession, run_assert_test, session_limits
from rewards.sandbox import ExecResult, Limits, run_python

_FENCE = re.compile(r"```(?P<lang>[A-Za-z0-9_+-]*)[ \t]*\n(?P<body>.*?)```", re.DOTALL)
_BARE_DEF = re.compile(r"^def \w+\(", re.MULTILINE)


def execute(
    program: str, *, stdin: str = "", timeout_s: float = 5.0, memory_mb: int = 512, **options: Any
) -> ExecResult:
    """Run a Python program in the sandbox. `options`: `allow_unsandboxed`, `python`, and `Limits` fields
    (`max_processes`, `max_file_mb`, `max_open_files`, `max_output_bytes`)."""
    limit_fields = {k: options.pop(k) for k in list(options) if k in Limits.__dataclass_fields__}
    limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb, **limit_fields)
    return run_python(program, stdin=stdin, limits=limits, **options)


def extract_code(completion: str, *, fallback_unfenced: bool = False) -> str | None:
    """The last fenced block labelled python (or unlabelled) in the completion. With `fallback_unfenced` (lenient
    evaluation, never a training reward) a completion without one gives its bare code instead: from its first
    `def` line up to the first blank line."""
    blocks = [m for m in _FENCE.finditer(completion) if m.group("lang").lower() in ("", "python", "py", "python3")]
    if blocks:
        return blocks[-1].group("body")
    if fallback_unfenced:
        match = _BARE_DEF.search(completion)
        if match:
            return completion[match.start() :].split("\n\n", 1)[0] + "\n"
    return None


def _normalize_output(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return [line for line in lines if line]


def _parse_tests(tests: Any) -> tuple[str, Any]:
    if isinstance(tests, str):
        try:
            tests = json.loads(tests)
        except json.JSONDecodeError:
            tests = [line for line in tests.splitlines() if line.strip()]
    if isinstance(tests, dict) and "inputs" in tests and "outputs" in tests:
        if len(tests["inputs"]) != len(tests["outputs"]):
            raise ValueError("stdin/stdout tests need as many outputs as inputs")
        return "io", list(zip(tests["inputs"], tests["outputs"], strict=True))
    if isinstance(tests, list) and all(isinstance(t, str) for t in tests):
        return "assert", tests
    raise ValueError("tests must be a list of assert statements or {'inputs': [...], 'outputs': [...]}")


def _assert_tests_passed(program: str, tests: list[str], options: dict[str, Any]) -> tuple[int, str | None]:
    """How many assert tests pass, and why none could run (the program did not load) or None."""
    limits = session_limits(Limits(timeout_s=options["timeout_s"], memory_mb=options["memory_mb"]), len(tests))
    with ProgramSession(
        program,
        timeout_s=options["timeout_s"],
        limits=limits,
        allow_unsandboxed=options["allow_unsandboxed"],
        python=options["python"],
    ) as session:
        passed = sum(run_assert_test(session, test) for test in tests)
    return passed, session.load_error


def _io_test_passes(program: str, stdin: str, expected: str, options: dict[str, Any]) -> bool:
    result = execute(program, stdin=stdin, **options)
    return result.ok and _normalize_output(result.stdout) == _normalize_output(expected)


def code_pass_rate(
    completion: str,
    sample: dict[str, Any],
    *,
    test_timeout_s: float = 5.0,
    memory_mb: int = 512,
    allow_unsandboxed: bool = False,
    python: str | None = None,
    fallback_unfenced: bool = False,
    **_: Any,
) -> tuple[float, dict[str, Any]]:
    """Fraction of `sample["tests"]` the completion's last python block passes (0.0 with no code);
    `fallback_unfenced` grades bare code too (lenient evaluation, see `extract_code`)."""
    program = extract_code(completion, fallback_unfenced=fallback_unfenced)
    kind, tests = _parse_tests(sample["tests"])
    if program is None or not tests:
        return 0.0, {"passed": 0, "total": len(tests), "reason": "no code block" if program is None else "no tests"}
    options = {
        "timeout_s": test_timeout_s,
        "memory_mb": memory_mb,
        "allow_unsandboxed": allow_unsandboxed,
        "python": python,  # None: the sandbox's default interpreter
    }
    if kind == "assert":
        passed, load_error = _assert_tests_passed(program, tests, options)
        if load_error is not None:
            return passed / len(tests), {"passed": passed, "total": len(tests), "reason": load_error}
    else:
        passed = sum(_io_test_passes(program, stdin, expected, options) for stdin, expected in tests)
    return passed / len(tests), {"passed": passed, "total": len(tests)}


def _preflight(*, allow_unsandboxed: bool = False, python: str | None = None, **_: Any) -> None:
    """Refuse before training starts, not on every rollout, when code cannot be run safely."""
    result = execute("print('ok')", allow_unsandboxed=allow_unsandboxed, python=python)
    if not result.ok:
        raise RuntimeError(f"the code sandbox cannot run a trivial program: {result.stderr.strip()[-300:]}")
    trivial = "```python\ndef one():\n    return 1\n```"
    score, info = code_pass_rate(
        trivial, {"tests": ["assert one() == 1"]}, allow_unsandboxed=allow_unsandboxed, python=python
    )
    if score != 1.0:
        raise RuntimeError(f"the code sandbox cannot run a trivial assert test: {info.get('reason', info)}")


code_pass_rate.preflight = _preflight  # type: ignore[attr-defined]
