"""Group-relative advantages: GRPO, Dr. GRPO (no std), batch-std scaling, and GDPO for several rewards.

Rollouts are ordered group by group: rows `g * group_size ... (g + 1) * group_size - 1` are the rollouts of
prompt `g`. Every std is the unbiased (Bessel) one, as `torch.std`, TRL and verl use.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rlvr.algo.registry import Registry

# (centered [G, group_size], grouped rewards [G, group_size], all rewards [N], eps) -> scaled [G, group_size]
ADV_SCALES: Registry = Registry("algo.adv_scale")
# (rewards [N, K], group_size, weights [K], adv_scale, eps) -> advantages [N]
MULTI_REWARDS: Registry = Registry("algo.multi_reward")


@ADV_SCALES.register("group_std")
def _group_std(centered, grouped, values, eps):
    """GRPO (DeepSeekMath): divide by the group's std."""
    return centered / (grouped.std(dim=1, keepdim=True) + eps)


@ADV_SCALES.register("batch_std")
def _batch_std(centered, grouped, values, eps):
    """Divide by the std of every reward in the batch (TRL scale_rewards="batch")."""
    return centered / (values.std() + eps)


@ADV_SCALES.register("none")
def _no_scale(centered, grouped, values, eps):
    """Dr. GRPO (Liu et al. 2025): the group mean is subtracted, nothing is divided."""
    return centered


def constant_groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """`[G]` bool: groups in which every rollout got exactly the same reward vector (zero variance).

    Such a group carries no learning signal; its advantages are exactly 0 (not merely close to it: the
    float mean of equal values is not always bit-equal to them, and dividing that residue by a tiny std
    would give an O(1) advantage out of nothing).
    """
    grouped = _as_2d(rewards).view(-1, group_size, _as_2d(rewards).shape[1])
    return (grouped == grouped[:, :1]).all(dim=2).all(dim=1)


def _as_2d(rewards: torch.Tensor) -> torch.Tensor:
    return rewards.unsqueeze(1) if rewards.dim() == 1 else rewards


def _center_and_scale(values: torch.Tensor, group_size: int, adv_scale: str, eps: float) -> torch.Tensor:
    """`[N]` -> `[N]`: subtract each group's mean, then divide by the chosen std (+ eps)."""
    grouped = values.view(-1, group_size)
    centered = grouped - grouped.mean(dim=1, keepdim=True)
    return ADV_SCALES[adv_scale](centered, grouped, values, eps).reshape(-1)


@MULTI_REWARDS.register("sum_then_normalize")
def _sum_then_normalize(rewards, group_size, w, adv_scale, eps):
    """GRPO: the weighted sum of the rewards, then centred and scaled."""
    return _center_and_scale(rewards @ w, group_size, adv_scale, eps)


@MULTI_REWARDS.register("gdpo")
def _gdpo(rewards, group_size, w, adv_scale, eps):
    """GDPO: each reward centred and scaled in its group, the weighted sum, then normalised over the batch."""
    per_reward = torch.stack(
        [_center_and_scale(rewards[:, j], group_size, adv_scale, eps) for j in range(rewards.shape[1])], dim=1
    )
    summed = per_reward @ w
    return (summed - summed.mean()) / (summed.std() + eps) if summed.numel() > 1 else summed * 0


def compute_advantages(
    rewards: torch.Tensor,
    group_size: int,
    *,
    adv_scale: str = "group_std",
    multi_reward: str = "sum_then_normalize",
    weights: Sequence[float] | torch.Tensor | None = None,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Advantages `[N]` from rewards `[N, K]` (N rollouts ordered group by group, K reward functions).

    `multi_reward="sum_then_normalize"` (GRPO): r = sum_k w_k r_k, then per group
        A = (r - mean_g(r)) / (std_g(r) + eps)      adv_scale="group_std"  (GRPO, DeepSeekMath)
        A = (r - mean_g(r)) / (std_batch(r) + eps)  adv_scale="batch_std"  (TRL scale_rewards="batch")
        A =  r - mean_g(r)                          adv_scale="none"       (Dr. GRPO, Liu et al. 2025)
    `multi_reward="gdpo"` (GDPO, NVIDIA 2026): each reward column is centred and scaled within its group
    first (by `adv_scale`, as above), then A = sum_k w_k A_k, then A is normalised over the whole batch,
    (A - mean(A)) / (std(A) + eps), so that one reward with a large range cannot drown the others.

    A group whose reward vectors are all equal gets advantage exactly 0 in every mode.
    """
    rewards = _as_2d(rewards).to(torch.float32)
    n, k = rewards.shape
    if group_size < 1 or n % group_size:
        raise ValueError(f"{n} rollouts do not split into groups of {group_size}")
    w = torch.ones(k) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    if w.shape != (k,):
        raise ValueError(f"{k} reward columns but {w.numel()} weights")
    advantages = MULTI_REWARDS[multi_reward](rewards, group_size, w, adv_scale, eps)
    zero = constant_groups(rewards, group_size).repeat_interleave(group_size)
    return advantages.masked_fill(zero, 0.0)
