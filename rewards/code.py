"""Code rewards: run the completion's last fenced Python block against the sample's tests, sandboxed.

Two test formats, as in the common datasets:
* assert-style (MBPP `test_list`, HumanEval-like): a list of statements such as `assert add(1, 2) == 3`;
* stdin/stdout cases (APPS, TACO, CodeContests): `{"inputs": [...], "outputs": [...]}`.
Each test runs in its own sandboxed process (`rewards.sandbox`), so one crash or hang costs one test.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from rewards.sandbox import ExecResult, Limits, run_python

_FENCE = re.compile(r"```(?P<lang>[A-Za-z0-9_+-]*)[ \t]*\n(?P<body>.*?)```", re.DOTALL)


def execute(
    program: str, *, stdin: str = "", timeout_s: float = 5.0, memory_mb: int = 512, **options: Any
) -> ExecResult:
    """Run a Python program in the sandbox. `options`: `allow_unsandboxed`, `python`, and `Limits` fields
    (`max_processes`, `max_file_mb`, `max_open_files`, `max_output_bytes`)."""
    limit_fields = {k: options.pop(k) for k in list(options) if k in Limits.__dataclass_fields__}
    limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb, **limit_fields)
    return run_python(program, stdin=stdin, limits=limits, **options)


def extract_code(completion: str) -> str | None:
    """The last fenced block labelled python (or unlabelled) in the completion."""
    blocks = [m for m in _FENCE.finditer(completion) if m.group("lang").lower() in ("", "python", "py", "python3")]
    return blocks[-1].group("body") if blocks else None


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


def _assert_passes(program: str, test: str, options: dict[str, Any]) -> bool:
    # The marker is printed only after the test ran, so `os._exit(0)` at import time does not pass.
    marker = f"__rlvr_passed_{secrets.token_hex(8)}__"
    harness = f"{program}\n\n{test}\nprint({marker!r})\n"
    result = execute(harness, **options)
    return result.ok and result.stdout.rstrip().endswith(marker)


def code_pass_rate(
    completion: str,
    sample: dict[str, Any],
    *,
    test_timeout_s: float = 5.0,
    memory_mb: int = 512,
    allow_unsandboxed: bool = False,
    python: str | None = None,
    **_: Any,
) -> tuple[float, dict[str, Any]]:
    """Fraction of `sample["tests"]` the completion's last python block passes (0.0 with no code)."""
    program = extract_code(completion)
    kind, tests = _parse_tests(sample["tests"])
    if program is None or not tests:
        return 0.0, {"passed": 0, "total": len(tests), "reason": "no code block" if program is None else "no tests"}
    options = {
        "timeout_s": test_timeout_s,
        "memory_mb": memory_mb,
        "allow_unsandboxed": allow_unsandboxed,
        "python": python,  # None: the sandbox's default interpreter
    }
    passed = 0
    for test in tests:
        if kind == "assert":
            passed += _assert_passes(program, test, options)
        else:
            stdin, expected = test
            result = execute(program, stdin=stdin, **options)
            passed += result.ok and _normalize_output(result.stdout) == _normalize_output(expected)
    return passed / len(tests), {"passed": passed, "total": len(tests)}


def _preflight(*, allow_unsandboxed: bool = False, python: str | None = None, **_: Any) -> None:
    """Refuse before training starts, not on every rollout, when code cannot be run safely."""
    result = execute("print('ok')", allow_unsandboxed=allow_unsandboxed, python=python)
    if not result.ok:
        raise RuntimeError(f"the code sandbox cannot run a trivial program: {result.stderr.strip()[-300:]}")


code_pass_rate.preflight = _preflight  # type: ignore[attr-defined]
