"""Math answer grading: is the model's final answer equivalent to a MATH-style gold answer?

`grade(prediction, gold)` takes a raw completion (its last `\\boxed{}`/`\\fbox{}` is the answer; optionally
its last number) and a LaTeX gold answer, and decides the way a careful human grader would:

1. Normalise notation that carries no meaning: `\\left`/`\\right`, `\\!`/`\\,` spacing, `\\dfrac`, `^\\circ`,
   `\\text{}`/`\\mbox{}` wrappers, `$`, trailing units, `x =` prefixes, thousands separators, `\\frac12`.
2. Decide the common cases exactly and fast, without sympy: equal strings, multiple-choice letters,
   plain-text answers (case- and space-insensitive), and numbers (integers, decimals, fractions, mixed
   numbers, percent, scientific notation) compared as exact fractions: 0.5 is 1/2, 0.333 is not 1/3.
3. Everything else (radicals, pi, complex numbers, intervals, sets, tuples, matrices, equations,
   expressions) is parsed with latex2sympy2_extended and compared with sympy (`rewards.symbolic`) in a
   helper process with a hard time limit, so `\\boxed{9^{9^{9^{9}}}}` returns False instead of hanging.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from rewards.timelimit import Sidecar, TimeLimitExceeded

MAX_ANSWER_CHARS = 1_000  # longer "answers" are rambling, not answers; refuse them before any parsing
DEFAULT_TIMEOUT_S = 5.0

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


# ---- 1. normalisation ------------------------------------------------------------------------------------

_WRAPPERS = (
    "\\text",
    "\\textbf",
    "\\textit",
    "\\textrm",
    "\\textnormal",
    "\\mbox",
    "\\mathrm",
    "\\mathbf",
    "\\operatorname",
)
_SIZING = re.compile(r"\\(?:displaystyle|left|right|[bB]igg?[lr]?)(?![a-zA-Z])")
# spacing commands and math delimiters, but never the `\\` row separator of a matrix
_SPACING = re.compile(r"(?<!\\)\\(?:[!,;:]|quad|qquad|\s)|~")
_DELIMITERS = re.compile(r"(?<!\\)\\[()\[\]]|\\\$|\$")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°|\\degree")
_UNIT_WORD = re.compile(r"^(?P<value>.*?[\d}])\s+(?P<unit>[a-zA-Z]{2,}(?:\s+[a-zA-Z]+)*(?:\^\{?\d\}?)?)$")


def _unwrap(text: str, command: str) -> str:
    """`\\text{abc}` -> `abc`, with nested braces; repeated for every occurrence."""
    out = text
    while True:
        m = re.search(re.escape(command) + r"\s*\{", out)
        if not m:
            return out
        depth, j = 0, m.end() - 1
        for j in range(m.end() - 1, len(out)):
            depth += {"{": 1, "}": -1}.get(out[j], 0)
            if depth == 0:
                break
        else:
            return out  # unbalanced: leave it for the parser to reject
        out = out[: m.start()] + out[m.end() : j] + out[j + 1 :]


def _braces_for_shorthand(text: str) -> str:
    """`\\frac12` -> `\\frac{1}{2}`, `\\frac43` -> `\\frac{4}{3}`, `\\frac9{19}`, `\\sqrt2` -> `\\sqrt{2}`."""
    text = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", text)
    text = re.sub(r"\\frac\s*(\d)\s*\{", r"\\frac{\1}{", text)
    text = re.sub(r"\\frac\s*(\{[^{}]*\})\s*(\d)", r"\\frac\1{\2}", text)
    return re.sub(r"\\sqrt\s*(\d)", r"\\sqrt{\1}", text)


def normalize(answer: str) -> str:
    """Notation-only clean-up of one answer (see the module docstring, step 1)."""
    s = answer.strip()
    for command in _WRAPPERS:
        s = _unwrap(s, command)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\dbinom", "\\binom")
    s = s.replace("\\tbinom", "\\binom").replace("bmatrix", "pmatrix").replace("\\%", "%").replace("{,}", ",")
    s = _DEGREES.sub("", s)
    s = _DELIMITERS.sub("", _SPACING.sub(" ", _SIZING.sub("", s)))
    s = re.sub(r"_\{(\w+)\}", r"_\1", s)  # 52_{8} -> 52_8
    s = _braces_for_shorthand(s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    s = inequality_as_interval(s)
    m = _UNIT_WORD.match(s)  # "5.4 cents", "864 inches^2": a value followed by unit words
    if m and not re.search(r"[a-zA-Z]", m.group("value").replace("\\frac", "").replace("\\sqrt", "")):
        s = m.group("value").strip()
    return s


_LESS = r"(?P<{0}>\\leqslant|\\leq|\\le|<)"
_CHAIN = re.compile(
    r"^(?P<low>[^<>=]+?)\s*" + _LESS.format("op1") + r"\s*[a-zA-Z]\s*" + _LESS.format("op2") + r"\s*(?P<high>[^<>=]+)$"
)


def inequality_as_interval(text: str) -> str:
    """`-2 \\le x \\le 7` -> `[-2, 7]`, `1 < x \\le 3` -> `(1, 3]`: the same set, in interval notation."""
    m = _CHAIN.match(text)
    if not m:
        return text
    left = "(" if m.group("op1") == "<" else "["
    right = ")" if m.group("op2") == "<" else "]"
    return f"{left}{m.group('low').strip()}, {m.group('high').strip()}{right}"


def strip_assignment(text: str) -> str:
    """`x = 5` -> `5`, `x \\in [1, 2]` -> `[1, 2]` (a single variable on the left, nothing else)."""
    m = re.match(r"^[a-zA-Z](?:_\w+)?\s*(?:=|\\in)\s*(?P<rest>[^=]+)$", text)
    return m.group("rest").strip() if m else text


# ---- 2. fast exact decisions -----------------------------------------------------------------------------

_INT_OR_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_FRACTION = re.compile(r"(?P<sign>[+-]?)\\frac\{(?P<num>[+-]?\d+)\}\{(?P<den>\d+)\}")
_SLASH = re.compile(r"(?P<sign>[+-]?)(?P<num>\d+)/(?P<den>\d+)")
_MIXED = re.compile(r"(?P<sign>[+-]?)(?P<whole>\d+)\s*\\frac\{(?P<num>\d+)\}\{(?P<den>\d+)\}")
_SCIENTIFIC = re.compile(
    r"(?P<mantissa>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:(?:\\times|\\cdot|\*)\s*10\s*\^\s*\{?(?P<exp1>[+-]?\d+)\}?"
    r"|[eE](?P<exp2>[+-]?\d+))"
)


def exact_number(text: str) -> Fraction | None:
    """The exact rational value of a plain number, or None if `text` is not one."""
    s = text.replace(" ", "")
    if _INT_OR_DECIMAL.fullmatch(s):
        return Fraction(s)
    if _THOUSANDS.fullmatch(s):
        return Fraction(s.replace(",", ""))
    for pattern in (_FRACTION, _SLASH):
        m = pattern.fullmatch(s)
        if m and int(m.group("den")) != 0:
            value = Fraction(int(m.group("num")), int(m.group("den")))
            return -value if m.group("sign") == "-" else value
    m = _MIXED.fullmatch(text.strip())
    if m and int(m.group("den")) != 0:
        value = int(m.group("whole")) + Fraction(int(m.group("num")), int(m.group("den")))
        return -value if m.group("sign") == "-" else value
    m = _SCIENTIFIC.fullmatch(s)
    if m:
        exponent = int(m.group("exp1") or m.group("exp2"))
        if abs(exponent) <= 400:
            return Fraction(m.group("mantissa")) * Fraction(10) ** exponent
    return None


def number_readings(text: str) -> set[Fraction] | None:
    """Exact values `text` may mean: one for a plain number, two for a percentage (50% is 50 or 0.5)."""
    if text.endswith("%"):
        value = exact_number(text[:-1])
        return None if value is None else {value, value / 100}
    value = exact_number(text)
    return None if value is None else {value}


_CHOICE = re.compile(r"^\(?([A-E])\)?$")


def _choice(text: str) -> str | None:
    m = _CHOICE.match(text.strip())
    return m.group(1) if m else None


def _is_plain_text(text: str) -> bool:
    """Words only (`east`, `Evelyn`, `even`): compared as text, never parsed as products of symbols."""
    return bool(re.fullmatch(r"[A-Za-z]{2,}(?: [A-Za-z]+)*", text))


def _base_number(text: str) -> tuple[str, str] | None:
    m = re.fullmatch(r"([0-9A-Fa-f]+)_(\d+)", text.replace(" ", ""))
    return (m.group(1).upper(), m.group(2)) if m else None


# ---- 3. symbolic comparison in a killable helper -------------------------------------------------------------

_sidecar: Sidecar | None = None


def symbolic_equivalent(prediction: str, gold: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> bool:
    """sympy comparison in the helper process; False on timeout, crash or anything unparsable."""
    global _sidecar
    if _sidecar is None:
        _sidecar = Sidecar()
    try:
        return bool(_sidecar.call("rewards.symbolic:equivalent", prediction, gold, timeout_s=timeout_s))
    except (TimeLimitExceeded, RuntimeError):
        return False


def answers_match(answer: str, gold: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> bool:
    """Is the extracted `answer` equivalent to `gold`? (steps 1-3 of the module docstring)."""
    if len(answer) > MAX_ANSWER_CHARS:
        return False
    a_full, g_full = normalize(answer), normalize(gold)
    a, g = strip_assignment(a_full), strip_assignment(g_full)
    if not a:
        return False
    if a == g:
        return True
    gold_choice = _choice(g)
    if gold_choice:
        return _choice(a) == gold_choice
    if _is_plain_text(g):
        return a.lower().replace(" ", "") == g.lower().replace(" ", "")
    gold_base = _base_number(g)
    if gold_base:  # 52_8: the digits must match; writing the base again is optional
        return (_base_number(a) or (a.upper(), gold_base[1])) == gold_base
    ra, rg = number_readings(a), number_readings(g)
    if ra is not None and rg is not None:
        return bool(ra & rg)
    if rg is not None and re.fullmatch(r"[+-]?[\d.,\s]+%?", a):
        return False  # a plain number that is not the gold number: no sympy needed
    # the full forms: "y = 2x + 1" against "2x - y + 1 = 0" is an equation comparison, not an expression one
    return symbolic_equivalent(a_full.replace("%", ""), g_full.replace("%", ""), timeout_s)


def grade(
    prediction: str, gold: str, *, fallback_last_number: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S
) -> bool:
    """True if the final answer of the completion `prediction` is equivalent to the gold answer `gold`."""
    answer = extract_answer(prediction, fallback_last_number=fallback_last_number)
    return answer is not None and answers_match(answer, gold, timeout_s=timeout_s)


def math_accuracy(completion: str, sample: dict[str, Any], *, fallback_last_number: bool = False, **_: Any) -> float:
    """The RLVR reward: 1.0 if the completion's final answer is equivalent to `sample["answer"]`, else 0.0."""
    return 1.0 if grade(completion, str(sample["answer"]), fallback_last_number=fallback_last_number) else 0.0
