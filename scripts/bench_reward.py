"""The reward both sides of `scripts/bench_vs_trl.py` score with: 1.0 if the gold answer occurs in the completion.

Deterministic, dependency-free and cheap, so rlvr and TRL do the same scoring work and the benchmark measures
the frameworks, not a verifier. It is not a sound grader (the gold `7` occurs in `17`), only a reward that
varies within a group, so the update does real work on both sides.

    rlvr:  rlvr train reward=[] reward.custom=scripts/bench_reward.py:contains_answer ...
    TRL:   GRPOTrainer(reward_funcs=contains_answer_trl, ...)   # the dataset has an `answer` column
"""

from __future__ import annotations

from typing import Any


def answer_found(completion: str, answer: str | None) -> float:
    """1.0 if the (non-empty) gold answer string occurs in the completion, else 0.0."""
    return 1.0 if answer and str(answer) in completion else 0.0


def contains_answer(completion: str, sample: dict[str, Any], **kwargs: Any) -> float:
    """rlvr's reward signature: one completion and its dataset row (`sample["answer"]` is the gold answer)."""
    return answer_found(completion, sample.get("answer"))


def contains_answer_trl(completions: list[str], answer: list[str], **kwargs: Any) -> list[float]:
    """TRL's reward signature: every completion of the batch, and the `answer` column repeated per completion."""
    return [answer_found(c, a) for c, a in zip(completions, answer, strict=True)]
