"""The clipped policy-gradient loss of GRPO/PPO, its token aggregations, the KL penalty, and TIS.

Shapes: `logprobs`, `old_logprobs`, `mask` are `[B, T]` over completion tokens (mask 1 where a token carries
loss); `advantages` is `[B]` (one per sequence, broadcast over its tokens, as in GRPO).
"""

from __future__ import annotations

import torch

LOSS_AGGS = ("token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm", "seq_mean_token_sum")
KL_ESTIMATORS = ("k1", "k3")


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref) from samples of pi (Schulman, "Approximating KL divergence").

    k1 = log pi - log pi_ref (unbiased, can be negative);
    k3 = exp(log pi_ref - log pi) - (log pi_ref - log pi) - 1 (unbiased, always >= 0; DeepSeekMath's GRPO).
    """
    log_ratio = ref_logprobs - logprobs
    if estimator == "k1":
        return -log_ratio
    if estimator == "k3":
        return torch.exp(log_ratio) - log_ratio - 1
    raise ValueError(f"kl_estimator must be one of {KL_ESTIMATORS}, got {estimator!r}")


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, loss_agg: str, max_tokens: int | None = None):
    """Reduce a `[B, T]` per-token loss to a scalar (verl's `agg_loss`, TRL's `loss_type`).

    token_mean:               sum(l * m) / sum(m)                      every token weighs the same (DAPO)
    seq_mean_token_mean:      mean_b( sum_t(l * m) / sum_t(m) )         every sequence weighs the same (GRPO)
    seq_mean_token_sum_norm:  mean_b( sum_t(l * m) / max_tokens )       constant normaliser (Dr. GRPO)
    seq_mean_token_sum:       mean_b( sum_t(l * m) )                    summed sequence log-prob (the book's ch. 6)
    """
    mask = mask.to(per_token.dtype)
    token_sums = (per_token * mask).sum(dim=1)
    if loss_agg == "token_mean":
        return token_sums.sum() / mask.sum().clamp(min=1.0)
    if loss_agg == "seq_mean_token_mean":
        return (token_sums / mask.sum(dim=1).clamp(min=1.0)).mean()
    if loss_agg == "seq_mean_token_sum_norm":
        if not max_tokens or max_tokens < 1:
            raise ValueError("loss_agg='seq_mean_token_sum_norm' needs max_tokens >= 1")
        return (token_sums / max_tokens).mean()
    if loss_agg == "seq_mean_token_sum":
        return token_sums.mean()
    raise ValueError(f"loss_agg must be one of {LOSS_AGGS}, got {loss_agg!r}")


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> float:
    return float((x * mask).sum() / mask.sum().clamp(min=1.0))


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    loss_agg: str = "token_mean",
    ref_logprobs: torch.Tensor | None = None,
    kl_beta: float = 0.0,
    kl_estimator: str = "k3",
    max_tokens: int | None = None,
    tis_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped surrogate loss, aggregated by `loss_agg`; returns (loss, metrics).

    ratio = exp(logprobs - old_logprobs)
    l_t   = max(-A * ratio, -A * clip(ratio, 1 - clip_low, 1 + clip_high))   (PPO; clip_high > clip_low is
            DAPO's "clip-higher")  [* tis_weights, truncated importance sampling against the engine's log-probs]
          + kl_beta * KL_t(pi || pi_ref)                                     (only when kl_beta > 0)
    With one update per batch (old_logprobs = logprobs.detach()) the ratio is 1 and the gradient is the plain
    policy gradient -A * grad log pi.

    Metrics: `clip_frac` (tokens whose clipped term is the active one), `ratio_mean/min/max`, `kl`.
    """
    mask = mask.to(logprobs.dtype)
    adv = advantages.to(logprobs.dtype).unsqueeze(1)
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -adv * ratio
    clipped = -adv * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    per_token = torch.maximum(unclipped, clipped)
    if tis_weights is not None:
        per_token = per_token * tis_weights.detach()
    metrics = {
        "clip_frac": _masked_mean((clipped > unclipped).to(mask.dtype), mask),
        "ratio_mean": _masked_mean(ratio.detach(), mask),
        "ratio_min": float(ratio.detach().masked_fill(mask == 0, float("inf")).min()) if mask.any() else 1.0,
        "ratio_max": float(ratio.detach().masked_fill(mask == 0, float("-inf")).max()) if mask.any() else 1.0,
    }
    if kl_beta > 0.0:
        if ref_logprobs is None:
            raise ValueError("kl_beta > 0 needs ref_logprobs")
        kl = kl_penalty(logprobs, ref_logprobs, kl_estimator)
        per_token = per_token + kl_beta * kl
        metrics["kl"] = _masked_mean(kl.detach(), mask)
    loss = aggregate(per_token, mask, loss_agg, max_tokens)
    return loss, metrics


def tis_weights(old_logprobs: torch.Tensor, sampling_logprobs: torch.Tensor, cap: float) -> torch.Tensor:
    """Truncated importance-sampling weights min(pi_learner / pi_engine, cap) per token (verl/TRL `tis`).

    Corrects the gradient for the mismatch between the rollout engine's numerics (vLLM, bf16) and the
    learner's, which otherwise biases "on-policy" GRPO (Yao et al. 2025, "Your efficient RL framework
    secretly brings you off-policy RL training").
    """
    return torch.exp(old_logprobs - sampling_logprobs).clamp(max=cap)
