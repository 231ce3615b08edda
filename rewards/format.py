"""Format rewards: each a separate function so GDPO can normalise them separately.

All take the completion text only; none needs the gold answer.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rewards.math import extract_boxed

_THINK_BLOCK = re.compile(r"^\s*<think>(?P<thought>.*?)</think>(?P<answer>.*)$", re.DOTALL)


def boxed_format(completion: str, sample: dict[str, Any] | None = None, **_: Any) -> float:
    """1.0 if the completion has a complete `\\boxed{...}` (what the math verifier reads), else 0.0."""
    return 1.0 if extract_boxed(completion) is not None else 0.0


def think_format(completion: str, sample: dict[str, Any] | None = None, **_: Any) -> float:
    """1.0 for Qwen3-style reasoning: exactly one `<think>...</think>` block, at the start, with a
    non-empty thought and a non-empty answer after it; else 0.0.

    The prompt may already end with `<think>` (Qwen3's chat template with thinking on); pass
    `sample["prompt"]` ending in `<think>` and the completion is read as if it began with the tag.
    """
    if sample and str(sample.get("prompt", "")).rstrip().endswith("<think>"):
        completion = "<think>" + completion
    if completion.count("<think>") != 1 or completion.count("</think>") != 1:
        return 0.0
    m = _THINK_BLOCK.match(completion)
    if not m or not m.group("thought").strip() or not m.group("answer").strip():
        return 0.0
    return 1.0


def tag_count(completion: str, sample: dict[str, Any] | None = None, **_: Any) -> float:
    """Partial credit, 0.25 per tag used exactly once: `<think>\\n`, `\\n</think>\\n`, `\\n<answer>\\n`,
    `\\n</answer>` (open-r1's `tag_count_reward`, which shapes the format before it is fully right)."""
    tags = ("<think>\n", "\n</think>\n", "\n<answer>\n", "\n</answer>")
    return sum(0.25 for tag in tags if completion.count(tag) == 1)


def _script(ch: str) -> str | None:
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    return name.split(" ")[0] if name else None


def language_consistency(completion: str, sample: dict[str, Any] | None = None, **kwargs: Any) -> float:
    """Fraction of letters written in the completion's dominant script (Latin, CJK, Cyrillic, ...).

    DeepSeek-R1's language-consistency reward: penalises reasoning that switches languages mid-way.
    `target_script="LATIN"` scores against a fixed script instead of the dominant one. No letters: 1.0.
    """
    counts: dict[str, int] = {}
    for ch in completion:
        script = _script(ch)
        if script:
            counts[script] = counts.get(script, 0) + 1
    total = sum(counts.values())
    if total == 0:
        return 1.0
    target = kwargs.get("target_script")
    return (counts.get(target, 0) if target else max(counts.values())) / total
