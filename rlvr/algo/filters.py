"""Which groups and tokens train: zero-variance groups (DAPO dynamic sampling) and overlong rollouts.

Pure functions on tensors; the loop decides what to do with the masks (drop, resample, zero the loss).
"""

from __future__ import annotations

import torch

from rlvr.algo.advantages import constant_groups

ZERO_VARIANCE = ("keep", "skip", "resample")
OVERLONG = ("none", "mask", "soft_penalty")


def informative_groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """`[G]` bool: True for groups with some reward variance, the ones that carry a gradient.

    `zero_variance="keep"` trains on all groups (constant ones add 0 to the loss but still count in
    token-mean denominators), `"skip"` drops the others, `"resample"` (DAPO) replaces them with new prompts.
    """
    return ~constant_groups(rewards, group_size)


def overlong_loss_mask(truncated: torch.Tensor, overlong: str) -> torch.Tensor:
    """`[N]` float: 0 for rollouts whose loss is masked because they hit the token cap (DAPO overlong filter).

    A truncated rollout has no final answer, so its 0 reward says nothing about its reasoning; masking keeps
    the model from learning "long is bad" from cut-off samples.
    """
    if overlong == "mask":
        return (~truncated.bool()).to(torch.float32)
    if overlong in ("none", "soft_penalty"):
        return torch.ones(truncated.shape, dtype=torch.float32)
    raise ValueError(f"overlong must be one of {OVERLONG}, got {overlong!r}")


def soft_overlong_penalty(lengths: torch.Tensor, max_tokens: int, buffer_tokens: int) -> torch.Tensor:
    """`[N]` reward penalty of DAPO's soft overlong punishment (added to the reward, <= 0).

    0 for lengths <= max_tokens - buffer; then a linear ramp down to -1 at max_tokens; -1 beyond.
    """
    if not 0 < buffer_tokens <= max_tokens:
        raise ValueError(f"overlong buffer must be in (0, max_tokens={max_tokens}], got {buffer_tokens}")
    expected = max_tokens - buffer_tokens
    penalty = (expected - lengths.to(torch.float32)) / buffer_tokens
    return penalty.clamp(min=-1.0, max=0.0)
