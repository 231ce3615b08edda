"""Math answer grading: is the model's final answer the same answer as a MATH-style gold answer?

    grade(completion, gold) -> bool
    grade_detail(completion, gold) -> Verdict(correct, extracted, reason)
    math_accuracy(completion, sample) -> 1.0 / 0.0      (the training reward; details=True adds the verdict)

How it decides (each step in its own module):

1. `rewards.math_extract`: the final answer is the last `\\boxed{}` (with the boxes joined to it by "and" or
   commas); a gold may be MATH's answer field or a whole solution.
2. `rewards.math_parse`: the answer is read, LaTeX or plain text, into a syntax tree; words stay words, so
   hedges (`5 \\text{ or more}`, `at least 10`) and ranges are refused instead of read as their number.
3. `rewards.math_compare` + `rewards.math_value`: its meaning (value, tuple, set, interval, labelled answer,
   equation, ratio, text) is compared with the gold's, exactly for rationals and to 48 digits otherwise.
4. `rewards.symbolic`: sympy, only for what the parser does not read (integrals, limits, ...).

It runs in the calling process and thread: no helper process, so the same verdicts come from a daemonic
`multiprocessing.Pool` worker, a thread, a notebook, `python -c`, `python -` or a script without a
`__main__` guard. Pathological answers are refused before they are computed (sizes and exponents are
checked first); a watchdog (`rewards.timelimit`) still bounds any call by `timeout_s`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from rewards.math_compare import Refused, equivalent, meaning
from rewards.math_extract import extract_answer, extract_boxed, gold_answer
from rewards.math_parse import ParseError, Unsupported, normalize, parse_answer
from rewards.math_value import EvalError, TooLarge
from rewards.timelimit import TimeLimitExceeded, time_limit

MAX_ANSWER_CHARS = 1_000  # longer "answers" are rambling, not answers; refused before any parsing
DEFAULT_TIMEOUT_S = 5.0

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MAX_ANSWER_CHARS",
    "Verdict",
    "answers_match",
    "clear_caches",
    "extract_answer",
    "extract_boxed",
    "grade",
    "grade_detail",
    "math_accuracy",
]


@dataclass(frozen=True)
class Verdict:
    """The grade of one completion: correct or not, the answer read from it, and why."""

    correct: bool
    extracted: str | None
    reason: str


def grade_detail(
    prediction: Any,
    gold: Any,
    *,
    fallback_last_number: bool = False,
    fallback_text: bool = False,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> Verdict:
    """Grade the completion `prediction` against `gold`; never raises, whatever the input."""
    if not isinstance(prediction, str):
        return Verdict(False, None, f"the prediction is not text ({type(prediction).__name__})")
    if not isinstance(gold, str):
        return Verdict(False, None, f"the gold answer is not text ({type(gold).__name__})")
    if not gold.strip():
        return Verdict(False, None, "the gold answer is empty")
    answer = extract_answer(prediction, fallback_last_number=fallback_last_number, fallback_text=fallback_text)
    if answer is None:
        return Verdict(False, None, "no final answer (no complete \\boxed{})")
    shown = answer if len(answer) <= 200 else answer[:200] + "..."
    correct, reason = compare_answers(answer, gold_answer(gold), timeout_s=timeout_s)
    return Verdict(correct, shown, reason)


def grade(
    prediction: Any,
    gold: Any,
    *,
    fallback_last_number: bool = False,
    fallback_text: bool = False,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> bool:
    """True if the final answer of the completion `prediction` is the same answer as `gold`."""
    return grade_detail(
        prediction, gold, fallback_last_number=fallback_last_number, fallback_text=fallback_text, timeout_s=timeout_s
    ).correct


def answers_match(answer: str, gold: str, *, timeout_s: float | None = DEFAULT_TIMEOUT_S) -> bool:
    """Is the already extracted `answer` the same answer as `gold`?"""
    return compare_answers(answer, gold, timeout_s=timeout_s)[0]


def compare_answers(answer: str, gold: str, *, timeout_s: float | None = DEFAULT_TIMEOUT_S) -> tuple[bool, str]:
    """(correct, reason) for two answer strings."""
    if len(answer) > MAX_ANSWER_CHARS:
        return False, f"the answer is longer than {MAX_ANSWER_CHARS} characters"
    if len(gold) > MAX_ANSWER_CHARS:
        return False, f"the gold answer is longer than {MAX_ANSWER_CHARS} characters"
    try:
        with time_limit(timeout_s):
            return _compare(answer, gold)
    except TimeLimitExceeded:
        return False, f"no verdict within {timeout_s} s"
    except RecursionError:
        return False, "the answer is nested too deeply"


def _compare(answer: str, gold: str) -> tuple[bool, str]:
    if _compact(answer) and _compact(answer) == _compact(gold):
        return True, "the same answer as written"
    g = _meaning(gold)
    if isinstance(g, Unsupported):
        return _sympy(answer, gold)
    if isinstance(g, Exception):
        return False, f"the gold answer is unreadable: {g}"
    p = _meaning(answer)
    if isinstance(p, Unsupported):
        return _sympy(answer, gold)
    if isinstance(p, Exception):
        return False, f"the answer is refused: {p}"
    try:
        if equivalent(p, g):
            return True, f"equivalent ({_kind(p)})"
    except TooLarge as exc:
        return False, f"too large to compare: {exc}"
    except (EvalError, Refused, ZeroDivisionError, OverflowError, ValueError) as exc:
        return False, f"not comparable: {exc}"
    return False, f"not equivalent ({_kind(p)} vs {_kind(g)})"


def _compact(text: str) -> str:
    """The answer as written, without the spaces that separate nothing: `x = 5` and `x=5` are one string, but
    `2 3` and `23` are not (a space between two digits or letters may matter)."""
    spaced = re.sub(r"\s+", " ", normalize(text))
    return re.sub(r"(?<![0-9A-Za-z]) | (?![0-9A-Za-z])", "", spaced)


@lru_cache(maxsize=4096)
def _meaning(text: str) -> object:
    """The meaning of an answer string, or the exception that says why it has none (cached: a gold is graded
    against every completion of its group, and completions repeat)."""
    try:
        return meaning(parse_answer(text))
    except (ParseError, Refused, EvalError, RecursionError) as exc:
        return exc


def _sympy(answer: str, gold: str) -> tuple[bool, str]:
    from rewards import symbolic

    try:
        same = symbolic.equivalent(_plain_latex(answer), _plain_latex(gold))
    except TimeLimitExceeded:
        raise
    except Exception as exc:  # sympy raises many kinds on odd input
        return False, f"sympy could not compare: {type(exc).__name__}"
    return (True, "equivalent (sympy)") if same else (False, "not equivalent (sympy)")


def _plain_latex(text: str) -> str:
    return normalize(text)


def _kind(m: object) -> str:
    name = type(m).__name__.removesuffix("M").lower()
    kind = getattr(m, "kind", None)
    return f"{kind}" if kind else name


def clear_caches() -> None:
    """Forget parsed answers (benchmarks measure cold gradings)."""
    _meaning.cache_clear()


def math_accuracy(
    completion: str,
    sample: dict[str, Any],
    *,
    fallback_last_number: bool = False,
    details: bool = False,
    **_: Any,
) -> float | tuple[float, dict[str, Any]]:
    """The RLVR reward: 1.0 if the completion's final answer is the same answer as `sample["answer"]`, else 0.0.
    With `details=True` it returns (reward, {"correct", "extracted", "reason"}) for the reward pool's info."""
    gold = sample.get("answer") if isinstance(sample, dict) else None
    if isinstance(gold, int | float | Fraction) and not isinstance(gold, bool):
        gold = str(gold)  # numeric gold columns (GSM8K-style datasets)
    verdict = grade_detail(completion, gold, fallback_last_number=fallback_last_number)
    reward = 1.0 if verdict.correct else 0.0
    return (reward, asdict(verdict)) if details else reward
