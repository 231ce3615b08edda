"""Math answer grading: is the model's final answer equivalent to a MATH-style gold answer?

`grade(prediction, gold)` takes the raw completion (the last `\\boxed{}` is the answer) and the gold LaTeX.
Plain numbers and fractions are decided exactly with `fractions.Fraction` before anything slower runs.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

_BOX_COMMANDS = ("\\boxed", "\\fbox")


def extract_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` / `\\fbox{...}` (nested braces respected), or None."""
    start = max(text.rfind(cmd) for cmd in _BOX_COMMANDS)
    while start != -1:
        i = start + (6 if text.startswith("\\boxed", start) else 5)
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            depth = 0
            for j in range(i, len(text)):
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        return text[i + 1 : j]
            return None  # unbalanced: the completion was cut off inside the box
        start = max(text.rfind(cmd, 0, start) for cmd in _BOX_COMMANDS)
    return None


_LAST_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")


def extract_answer(text: str, *, fallback_last_number: bool = False) -> str | None:
    """The final answer of a completion: the last boxed content, else (if asked) the last number in it."""
    boxed = extract_boxed(text)
    if boxed is not None or not fallback_last_number:
        return boxed
    numbers = _LAST_NUMBER.findall(text)
    return numbers[-1].rstrip(",") if numbers else None


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def _as_fraction(text: str) -> Fraction | None:
    text = text.replace(" ", "")
    if _NUMBER.match(text):
        return Fraction(text)
    m = re.fullmatch(r"([+-]?)\\[dt]?frac\{?([0-9]+)\}?\{?([0-9]+)\}?", text) or re.fullmatch(
        r"([+-]?)([0-9]+)/([0-9]+)", text
    )
    if m and int(m.group(3)) != 0:
        value = Fraction(int(m.group(2)), int(m.group(3)))
        return -value if m.group(1) == "-" else value
    return None


def grade(prediction: str, gold: str, *, fallback_last_number: bool = False) -> bool:
    """True if the last boxed answer of `prediction` equals `gold`."""
    answer = extract_answer(prediction, fallback_last_number=fallback_last_number)
    if answer is None:
        return False
    a, b = _as_fraction(answer.strip()), _as_fraction(gold.strip())
    if a is not None and b is not None:
        return a == b
    return answer.strip() == gold.strip()


def math_accuracy(completion: str, sample: dict[str, Any], *, fallback_last_number: bool = False, **_: Any) -> float:
    """1.0 if the completion's boxed answer is equivalent to `sample["answer"]`, else 0.0."""
    return 1.0 if grade(completion, str(sample["answer"]), fallback_last_number=fallback_last_number) else 0.0
