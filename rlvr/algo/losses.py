"""The policy-gradient losses of GRPO/PPO, their token aggregations, the KL penalty, and the importance weights.

Shapes: `logprobs`, `old_logprobs`, `mask` are `[B, T]` over completion tokens (mask 1 where a token carries
loss); `advantages` is `[B]` (one per sequence, broadcast over its tokens, as in GRPO). Every option is a
registry entry (`LOSS_AGGS`, `KL_ESTIMATORS`, `POLICY_LOSSES`), and `LossSettings` carries the chosen ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from rlvr.algo.registry import Registry

# (per_token [B, T], mask [B, T], max_tokens) -> scalar
LOSS_AGGS: Registry = Registry("algo.loss_agg")
# (logprobs, ref_logprobs) -> per-token KL estimate [B, T]
KL_ESTIMATORS: Registry = Registry("algo.kl_estimator")
# (logprobs, old_logprobs, advantages [B, 1], settings) -> (per-token loss [B, T], metrics)
POLICY_LOSSES: Registry = Registry("algo.policy_loss")


@dataclass(frozen=True)
class LossSettings:
    """Everything the loss needs to know from the recipe, in one object (`from_config` builds it)."""

    policy_loss: str = "ppo_clip"
    loss_agg: str = "token_mean"
    clip_low: float = 0.2
    clip_high: float = 0.2
    kl_beta: float = 0.0
    kl_estimator: str = "k3"
    max_tokens: int | None = None  # the constant normaliser of seq_mean_token_sum_norm
    tis_cap: float = 0.0  # cap of the behaviour importance weight; 0 = not applied

    @classmethod
    def from_config(cls, algo: Any, max_tokens: int) -> LossSettings:
        return cls(
            policy_loss=algo.policy_loss,
            loss_agg=str(algo.loss_agg),
            clip_low=algo.clip_low,
            clip_high=algo.clip_high,
            kl_beta=algo.kl_beta,
            kl_estimator=str(algo.kl_estimator),
            max_tokens=max_tokens,
            tis_cap=algo.tis_cap,
        )


@KL_ESTIMATORS.register("k1")
def _k1(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """log pi - log pi_ref: unbiased, can be negative."""
    return logprobs - ref_logprobs


@KL_ESTIMATORS.register("k3")
def _k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """exp(log pi_ref - log pi) - (log pi_ref - log pi) - 1: unbiased, always >= 0 (DeepSeekMath's GRPO)."""
    log_ratio = ref_logprobs - logprobs
    return torch.exp(log_ratio) - log_ratio - 1


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref) from samples of pi (Schulman, "Approximating KL divergence")."""
    return KL_ESTIMATORS[estimator](logprobs, ref_logprobs)


@LOSS_AGGS.register("token_mean")
def _token_mean(per_token, mask, max_tokens):
    """sum(l * m) / sum(m): every token weighs the same (DAPO)."""
    return (per_token * mask).sum() / mask.sum().clamp(min=1.0)


@LOSS_AGGS.register("seq_mean_token_mean")
def _seq_mean_token_mean(per_token, mask, max_tokens):
    """mean_b( sum_t(l * m) / sum_t(m) ): every sequence weighs the same (GRPO)."""
    return ((per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)).mean()


@LOSS_AGGS.register("seq_mean_token_sum_norm")
def _seq_mean_token_sum_norm(per_token, mask, max_tokens):
    """mean_b( sum_t(l * m) / max_tokens ): a constant normaliser (Dr. GRPO)."""
    if not max_tokens or max_tokens < 1:
        raise ValueError("loss_agg='seq_mean_token_sum_norm' needs max_tokens >= 1")
    return ((per_token * mask).sum(dim=1) / max_tokens).mean()


@LOSS_AGGS.register("seq_mean_token_sum")
def _seq_mean_token_sum(per_token, mask, max_tokens):
    """mean_b( sum_t(l * m) ): the summed sequence log-prob (the book's ch. 6)."""
    return (per_token * mask).sum(dim=1).mean()


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, loss_agg: str, max_tokens: int | None = None):
    """Reduce a `[B, T]` per-token loss to a scalar (verl's `agg_loss`, TRL's `loss_type`)."""
    return LOSS_AGGS[loss_agg](per_token, mask.to(per_token.dtype), max_tokens)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> float:
    return float((x * mask).sum() / mask.sum().clamp(min=1.0))


@POLICY_LOSSES.register("ppo_clip")
def _ppo_clip(logprobs, old_logprobs, adv, settings: LossSettings):
    """max(-A * ratio, -A * clip(ratio, 1 - clip_low, 1 + clip_high)), ratio = exp(logprobs - old_logprobs):
    PPO's clipped surrogate; clip_high > clip_low is DAPO's "clip-higher"."""
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -adv * ratio
    clipped = -adv * torch.clamp(ratio, 1.0 - settings.clip_low, 1.0 + settings.clip_high)
    return torch.maximum(unclipped, clipped), {"ratio": ratio.detach(), "clipped": (clipped > unclipped)}


def tis_weights(old_logprobs: torch.Tensor, sampling_logprobs: torch.Tensor, cap: float) -> torch.Tensor:
    """Behaviour importance weights min(pi_old / pi_sampler, cap) per token (TIS; AReaL's capped behaviour
    weight). `old_logprobs` are the proximal policy's: the learner before this update.

    Corrects the gradient for rollouts the learner's policy did not itself sample: an engine with other
    numerics (vLLM, bf16; Yao et al. 2025) or older weights (`rollout.max_staleness`)."""
    return torch.exp(old_logprobs - sampling_logprobs).clamp(max=cap)


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    settings: LossSettings,
    *,
    ref_logprobs: torch.Tensor | None = None,
    sampling_logprobs: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of one (micro-)batch, aggregated by `settings.loss_agg`; returns (loss, metrics).

    l_t = POLICY_LOSSES[settings.policy_loss] (the clipped surrogate, ratio against `old_logprobs`)
          x min(exp(old_logprobs - sampling_logprobs), tis_cap)   (when tis_cap > 0: the behaviour weight)
          + kl_beta * KL_t(pi || pi_ref)                           (when kl_beta > 0)
    With `old_logprobs` the learner before this update (the proximal policy) this is AReaL's decoupled
    objective; with one update per batch (`old_logprobs = logprobs.detach()`) the ratio is 1 and the gradient
    is the plain policy gradient -A * w * grad log pi.

    Metrics: `clip_frac` (tokens whose clipped term is the active one), `ratio_mean/min/max`, `kl`, and with a
    behaviour weight `tis_weight_mean`.
    """
    mask = mask.to(logprobs.dtype)
    adv = advantages.to(logprobs.dtype).unsqueeze(1)
    per_token, parts = POLICY_LOSSES[settings.policy_loss](logprobs, old_logprobs, adv, settings)
    ratio = parts["ratio"]
    metrics = {
        "clip_frac": _masked_mean(parts["clipped"].to(mask.dtype), mask),
        "ratio_mean": _masked_mean(ratio, mask),
        "ratio_min": float(ratio.masked_fill(mask == 0, float("inf")).min()) if mask.any() else 1.0,
        "ratio_max": float(ratio.masked_fill(mask == 0, float("-inf")).max()) if mask.any() else 1.0,
    }
    if settings.tis_cap > 0:
        if sampling_logprobs is None:
            raise ValueError("tis_cap > 0 needs the sampling log-probs")
        weights = tis_weights(old_logprobs.detach(), sampling_logprobs, settings.tis_cap)
        per_token = per_token * weights
        metrics["tis_weight_mean"] = _masked_mean(weights, mask)
    if settings.kl_beta > 0.0:
        if ref_logprobs is None:
            raise ValueError("kl_beta > 0 needs ref_logprobs")
        kl = kl_penalty(logprobs, ref_logprobs, settings.kl_estimator)
        per_token = per_token + settings.kl_beta * kl
        metrics["kl"] = _masked_mean(kl.detach(), mask)
    loss = aggregate(per_token, mask, settings.loss_agg, settings.max_tokens)
    return loss, metrics
