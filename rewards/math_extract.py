"""Find the final answer in a completion (and in a gold answer, which may be a whole solution).

The answer is the content of the last `\\boxed{}` / `\\fbox{}`, with the boxes just before it when only connecting
words separate them (`\\boxed{2} and \\boxed{3}`, `\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}`):
several boxes joined like that are one multi-part answer, while a box followed by more reasoning and another box
is a first attempt that the last box replaces. Boxes joined by "or" are alternatives (the comparison refuses them
unless the gold answer has exactly those values).

Without a box, `fallback_text=True` reads the answer from the text: the last "final answer is ..." phrase, else
the last math span (`$...$`, `\\(...\\)`, `\\[...\\]`) or the number after it. `fallback_last_number=True` takes
the last number. Both are opt-in: the training reward asks for a box.
"""

from __future__ import annotations

import re

_BOX = re.compile(r"\\(?:boxed|fbox)\b")
MAX_RUN_CHARS = 5_000  # joined boxes beyond this are not one answer (and joining them costs time)
TEXT_FALLBACK_CHARS = 4_000  # without a box, the answer is looked for in the completion's last characters
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?%?")


def _group_end(text: str, i: int) -> int | None:
    """Index just after the `{...}` that starts at text[i], or None if the braces never close."""
    depth = 0
    j = i
    n = len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return None


def boxes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every complete outermost box, in order; an unclosed box ends the list with
    content None (the completion was cut off inside it)."""
    out: list[tuple[int, int, str]] = []
    pos = 0
    while True:
        m = _BOX.search(text, pos)
        if m is None:
            return out
        i = m.end()
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            end = _group_end(text, i)
            if end is None:
                out.append((m.start(), len(text), None))
                return out
            out.append((m.start(), end, text[i + 1 : end - 1]))
            pos = end
        elif i < len(text) and (text[i].isalnum()):  # \boxed 5: TeX boxes the next token
            j = i + 1
            while j < len(text) and text[i].isdigit() and (text[j].isdigit() or text[j] == "."):
                j += 1
            out.append((m.start(), j, text[i:j]))
            pos = j
        else:
            pos = i


_JOIN_NOISE = re.compile(r"\$|\\[()\[\]]|\\(?:quad|qquad|text|textbf|mbox|mathrm)\b|\\[,;: !]|[{}&\\.,;:()\s]")
_REVISIONS = {
    "no", "not", "wait", "but", "actually", "however", "instead", "mistake", "wrong", "error", "recheck", "check",
    "correct", "incorrect", "oops", "sorry", "hmm", "so", "therefore", "thus", "hence", "final", "answer", "again",
}  # fmt: skip


def _connector(between: str) -> str | None:
    """How two neighbouring boxes are joined: "," (parts of one answer), "or" (alternatives), or None (the later
    box replaces the earlier). Parts are joined by a comma, "and" or nothing but punctuation, in a short stretch
    of text without words of revision ("wait", "no", "actually", ...)."""
    if len(between) > 80:
        return None
    rest = _JOIN_NOISE.sub(" ", between)
    lowered = [w.lower() for w in re.findall(r"[A-Za-z]+", rest)]
    if any(w in _REVISIONS for w in lowered):
        return None
    if "or" in lowered:
        return "or"
    if not lowered or "and" in lowered or "," in between or ";" in between:
        return ","
    return None


def final_box_run(text: str) -> str | None:
    """The answer in the last box and the boxes joined to it (see the module docstring); None without one."""
    found = boxes(text)
    if not found or found[-1][2] is None:
        return None
    run, joins, size = [found[-1][2]], [], len(found[-1][2])
    for k in range(len(found) - 1, 0, -1):
        conn = _connector(text[found[k - 1][1] : found[k][0]])
        if conn is None or size > MAX_RUN_CHARS:  # a longer run is refused as an answer anyway
            break
        run.append(found[k - 1][2])
        joins.append(conn)
        size += len(found[k - 1][2])
    run.reverse()
    joins.reverse()
    parts = [run[0]]
    for conn, part in zip(joins, run[1:], strict=True):
        parts.append((" \\text{ or } " if conn == "or" else ", ") + part)
    return "".join(parts)


def extract_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` / `\\fbox{...}` (nested braces respected), or None."""
    found = boxes(text)
    return found[-1][2] if found else None


_FINAL = re.compile(r"final\s+answer\s*(?:is|:)\s*(?:the\s+final\s+answer\s+is\s*)?:?", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<!\d)\.(?=\s|$)|(?<=\d)\.(?=\s|$)|\n|I hope|<\|")
_SPANS = re.compile(r"\$\$(.+?)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)


def _final_phrase(text: str) -> tuple[int, str] | None:
    """(position, answer) of the last "final answer is X" in the text."""
    matches = list(_FINAL.finditer(text))
    if not matches:
        return None
    m = matches[-1]
    rest = text[m.end() :]
    spans = list(_SPANS.finditer(rest))
    end = _SENTENCE_END.search(_mask_spans(rest))
    phrase = rest[: end.start()] if end else rest
    phrase = phrase.strip().removeprefix('\\"').removesuffix('\\"').strip('"').strip()
    if spans and spans[0].start() < len(phrase) and not re.search(r"\b(?:is|are|was)\b", _mask_spans(phrase)):
        return m.start(), phrase
    tail = re.split(r"\s(?:is|are|was|=)\s", _mask_spans(phrase))
    if len(tail) > 1:
        return m.start(), phrase[len(phrase) - len(tail[-1]) :].strip()
    if re.search(r"[A-Za-z]{3,}", _mask_spans(phrase)) and not spans:
        numbers = _NUMBER.findall(phrase)
        return (m.start(), numbers[-1].rstrip(",")) if numbers else None
    return m.start(), phrase


def _mask_spans(text: str) -> str:
    """The text with every math span replaced by x's of the same length (to find sentence ends outside maths)."""
    return _SPANS.sub(lambda m: "x" * len(m.group(0)), text)


def _last_span_or_number(text: str, numbers: bool) -> str | None:
    spans = list(_SPANS.finditer(text))
    last_span = spans[-1] if spans else None
    after = text[last_span.end() :] if last_span else text
    if numbers:
        found = _NUMBER.findall(after)
        if found:
            return found[-1].rstrip(",")
    if last_span:
        return next(g for g in last_span.groups() if g is not None)
    return None


def extract_answer(text: str, *, fallback_last_number: bool = False, fallback_text: bool = False) -> str | None:
    """The final answer of a completion (see the module docstring), or None."""
    boxed = final_box_run(text)
    if fallback_text:
        tail = text[-TEXT_FALLBACK_CHARS:]  # the answer is at the end; and the span search is not linear
        phrase = _final_phrase(tail)
        found = boxes(text)
        if phrase is not None and (boxed is None or len(text) - len(tail) + phrase[0] > found[-1][1]):
            return phrase[1]
        if boxed is not None:
            return boxed
        if _bare_answer(text):
            return text
        return _last_span_or_number(tail, numbers=True)
    if boxed is not None or not fallback_last_number:
        return boxed
    found = _NUMBER.findall(text)
    return found[-1].rstrip(",") if found else None


def _bare_answer(text: str) -> bool:
    """A short text with no maths delimiters and no prose: the answer itself (`\\frac{10}{9}`, `x = 3`)."""
    prose = re.sub(r"\\[A-Za-z]+", " ", text)
    return len(text) <= 200 and not _SPANS.search(text) and not re.search(r"[A-Za-z]{3,}\s+[A-Za-z]{2,}", prose)


def gold_answer(gold: str) -> str:
    """The answer in a gold string: MATH's answer field as is, or the boxes / final answer of a whole solution."""
    if _BOX.search(gold):
        boxed = final_box_run(gold)
        if boxed is not None:
            return boxed
        found = boxes(gold)
        if found and found[-1][2] is None:  # a gold is not cut off: its last box lost its closing brace
            start = gold.index("{", found[-1][0])
            return gold[start + 1 :]
    phrase = _final_phrase(gold[-TEXT_FALLBACK_CHARS:]) if len(gold) > 200 else None
    if phrase is not None:
        return phrase[1]
    return gold
