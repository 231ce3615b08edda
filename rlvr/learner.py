"""The learner: policy model (+ optional LoRA), optimizer and schedule, chunked token log-probs, micro-batched
GRPO updates. It knows nothing about generation or rewards: it takes a `TrainBatch` and returns metrics.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from rlvr.algo import aggregate, kl_penalty, policy_loss, tis_weights
from rlvr.config import LoraConfig as LoraSpec
from rlvr.config import ModelConfig, OptimConfig, TrainConfig
from rlvr.errors import ConfigError, MissingDependencyError
from rlvr.faults import Faults
from rlvr.types import Rollout, TrainBatch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _check_local(path: str, what: str) -> None:
    """A path that can only be local (absolute, relative, or deeper than the hub's `org/name`) must exist."""
    looks_local = path.startswith(("/", ".", "~")) or path.count("/") > 1
    if looks_local and not Path(path).expanduser().exists():
        raise ConfigError(f"{what} not found: {path}")


def load_tokenizer(cfg: ModelConfig):
    source = cfg.tokenizer or cfg.path
    _check_local(source, "tokenizer path" if cfg.tokenizer else "model path")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load tokenizer {source!r}: {str(exc).splitlines()[0]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(cfg: ModelConfig, device: torch.device) -> torch.nn.Module:
    """The policy in `master_dtype` (fp32 by default: the optimizer updates full-precision weights)."""
    _check_local(cfg.path, "model path")
    dtype = DTYPES[cfg.master_dtype]
    kwargs = {"attn_implementation": cfg.attn_implementation} if cfg.attn_implementation else {}
    try:
        if cfg.from_config:
            config = AutoConfig.from_pretrained(cfg.path)
            model = AutoModelForCausalLM.from_config(config, dtype=dtype, **kwargs)
        else:
            model = AutoModelForCausalLM.from_pretrained(cfg.path, dtype=dtype, **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load model {cfg.path!r}: {str(exc).splitlines()[0]}") from None
    model.to(device)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    lora_cfg = cfg.lora
    if cfg.checkpoint:  # an rlvr checkpoint knows whether it holds an adapter, and of which shape
        lora_cfg = _checkpoint_lora(Path(cfg.checkpoint)) or lora_cfg
    if cfg.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, cfg.adapter, is_trainable=True)
    elif lora_cfg.rank > 0:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError:
            raise MissingDependencyError("model.lora.rank > 0 needs peft: pip install peft") from None
        lora = LoraConfig(
            r=lora_cfg.rank,
            lora_alpha=lora_cfg.alpha,
            lora_dropout=lora_cfg.dropout,
            target_modules=list(lora_cfg.target_modules),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    if cfg.checkpoint:
        from safetensors.torch import load_file

        from rlvr.checkpoint import load_model_tensors

        weights = Path(cfg.checkpoint) / "model.safetensors"
        if not weights.exists():
            raise ConfigError(f"model.checkpoint: {cfg.checkpoint} is not an rlvr checkpoint (no model.safetensors)")
        load_model_tensors(model, load_file(weights, device=str(device)))
    return model


def _checkpoint_lora(path: Path):
    """The LoRA settings a checkpoint was trained with (from its config.yaml), or None."""
    from omegaconf import OmegaConf

    config = path / "config.yaml"
    if not config.exists():
        return None
    lora = OmegaConf.load(config).get("model", {}).get("lora")
    return LoraSpec(**lora) if lora and lora.get("rank", 0) > 0 else None


LOGIT_CHUNK_ELEMENTS = 2**24  # log-softmax this many logits at a time (64 MB in float32)


def token_logprobs(
    model: torch.nn.Module, batch: TrainBatch, temperature: float, *, with_entropy: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs `[B, C]` of the completion tokens under log_softmax(logits / T), and optionally the entropy.

    Only the completion positions' logits are computed (`logits_to_keep`), and the float32 log-softmax runs
    over a few rows at a time, so a `[B, C, vocab]` float32 tensor never exists at once for a large
    vocabulary (150k tokens x 512 positions is 300 MB per sequence); small models take one chunk.
    Positions come from the attention mask, as in `generate`, so left padding does not shift them.
    """
    input_ids = torch.cat([batch.prompt_ids, batch.completion_ids], dim=1)
    attention_mask = torch.cat([batch.prompt_mask, batch.completion_mask], dim=1)
    position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    width = batch.completion_ids.shape[1]
    logits = model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, logits_to_keep=width + 1
    ).logits[:, :-1]
    scale = temperature if temperature > 0 else 1.0
    rows_per_chunk = max(1, LOGIT_CHUNK_ELEMENTS // max(1, logits.shape[1] * logits.shape[2]))
    chunks, entropies = [], []
    for start in range(0, logits.shape[0], rows_per_chunk):
        part = slice(start, start + rows_per_chunk)
        logp = torch.log_softmax(logits[part].float() / scale, dim=-1)
        chunks.append(logp.gather(-1, batch.completion_ids[part].unsqueeze(-1)).squeeze(-1))
        if with_entropy:
            with torch.no_grad():
                entropies.append(-(logp.exp() * logp).sum(-1))
    return torch.cat(chunks), (torch.cat(entropies) if with_entropy else None)


def collate(rollouts: list[Rollout], advantages: torch.Tensor, loss_weights: torch.Tensor, pad_id: int) -> TrainBatch:
    """Rollouts -> padded TrainBatch (prompts left-padded, completions right-padded)."""
    p_width = max(len(r.prompt_ids) for r in rollouts)
    c_width = max(1, max(len(r.completion_ids) for r in rollouts))

    def pad(seqs: list[list], width: int, value, left: bool) -> torch.Tensor:
        return torch.tensor(
            [([value] * (width - len(s)) + s) if left else (s + [value] * (width - len(s))) for s in seqs]
        )

    completion_mask = pad([[1] * len(r.completion_ids) for r in rollouts], c_width, 0, left=False)
    return TrainBatch(
        prompt_ids=pad([r.prompt_ids for r in rollouts], p_width, pad_id, left=True),
        prompt_mask=pad([[1] * len(r.prompt_ids) for r in rollouts], p_width, 0, left=True),
        completion_ids=pad([r.completion_ids for r in rollouts], c_width, pad_id, left=False),
        completion_mask=completion_mask,
        loss_mask=completion_mask.float() * loss_weights.float().unsqueeze(1),
        advantages=advantages.float(),
        sampling_logprobs=pad([r.logprobs for r in rollouts], c_width, 0.0, left=False).float(),
    )


def lr_lambda(optim: OptimConfig, total_steps: int):
    """Linear warmup, then constant, cosine or linear decay to 0 at `total_steps`."""

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / optim.warmup_steps) if optim.warmup_steps else 1.0
        progress = min(1.0, max(0, step - optim.warmup_steps) / max(1, total_steps - optim.warmup_steps))
        if optim.schedule == "cosine":
            return warm * 0.5 * (1.0 + math.cos(math.pi * progress))
        if optim.schedule == "linear":
            return warm * (1.0 - progress)
        return warm

    return factor


class Learner:
    """Owns the trained weights and their optimizer. `step(batch)` is one GRPO update."""

    def __init__(
        self, cfg: TrainConfig, model: torch.nn.Module, device: torch.device, faults: Faults | None = None
    ) -> None:
        self.cfg = cfg
        self.model = model
        self.device = device
        self.version = 0
        # the faults the learner injects (gradient and logit scale); by default those of `cfg.fault`
        self.faults = faults if faults is not None else Faults.from_config(dict(cfg.fault))
        if self.faults.logit_scale_at_step is not None:
            model.register_forward_hook(self._scale_logits_fault)
        # No KL, no reference model: with kl_beta = 0 nothing else is loaded (memory is the policy only).
        self.ref_model = None
        if cfg.algo.kl_beta > 0 and cfg.model.lora.rank == 0:
            self.ref_model = load_model(cfg.model, device).eval().requires_grad_(False)
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            params, lr=cfg.optim.lr, betas=tuple(cfg.optim.betas), weight_decay=cfg.optim.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(cfg.optim, max(1, cfg.steps)))
        self.autocast_dtype = DTYPES[cfg.model.dtype] if cfg.model.dtype != cfg.model.master_dtype else None

    @property
    def current_step(self) -> int:
        """The run's step in progress: steps completed (the weight version) + 1. Generation for a step runs
        before its update, so the engine and the learner see the same step."""
        return self.version + 1

    def _scale_logits_fault(self, module: torch.nn.Module, args, output):
        """Forward hook of the logit-scale fault: every forward of the policy (sampling and learning)."""
        factor = self.faults.logit_scale(self.current_step)
        if factor != 1.0:
            output.logits = output.logits * factor
        return output

    def _forward(self, model: torch.nn.Module, batch: TrainBatch, with_entropy: bool = False):
        temperature = self.cfg.rollout.temperature
        if self.autocast_dtype is None:
            return token_logprobs(model, batch, temperature, with_entropy=with_entropy)
        with torch.autocast(self.device.type, dtype=self.autocast_dtype):
            return token_logprobs(model, batch, temperature, with_entropy=with_entropy)

    @torch.no_grad()
    def _reference_logprobs(self, batch: TrainBatch) -> torch.Tensor:
        if self.ref_model is not None:
            return self._forward(self.ref_model, batch)[0]
        with self.model.disable_adapter():  # LoRA: the base model is the reference, no second copy
            return self._forward(self.model, batch)[0]

    def _micro_batches(self, size: int) -> Iterator[slice]:
        mb = self.cfg.optim.micro_batch_size
        for start in range(0, size, mb):
            yield slice(start, min(size, start + mb))

    def scale_lr(self, factor: float) -> None:
        """Multiply the learning rate, now and for the rest of the schedule (rollback mitigation)."""
        for group in self.optimizer.param_groups:
            group["lr"] *= factor
            group["initial_lr"] *= factor
        self.scheduler.base_lrs = [lr * factor for lr in self.scheduler.base_lrs]

    @torch.no_grad()
    def _update_kl(self, mb: TrainBatch, old_logprobs: torch.Tensor, rows: int = 8) -> float:
        """How far the update moved the policy: k3 estimate of KL(old || new) on a few sequences of the
        first micro-batch (one small extra forward; enough to see a spike)."""
        mb, old_logprobs = mb.select(slice(0, rows)), old_logprobs[:rows]
        new_logprobs, _ = self._forward(self.model, mb)
        return float(aggregate(kl_penalty(old_logprobs, new_logprobs, "k3"), mb.loss_mask, "token_mean"))

    def step(self, batch: TrainBatch, lr_multiplier: float = 1.0) -> dict[str, float]:
        """One optimizer step (or `algo.num_iterations` of them) on `batch`; returns `learn/*` metrics.

        `lr_multiplier` scales this step's learning rate only (fault injection rehearses an LR spike)."""
        algo = self.cfg.algo
        batch = batch.select(slice(None))
        for name in batch.__dataclass_fields__:
            setattr(batch, name, getattr(batch, name).to(self.device))
        if batch.size == 0 or batch.loss_mask.sum() == 0:
            self._advance_schedule()
            self.version += 1
            return {"learn/skipped": 1.0, "learn/tokens": 0.0}
        use_kl = algo.kl_beta > 0
        ref = {}
        old = {}
        for part in self._micro_batches(batch.size):
            if use_kl:
                ref[part.start] = self._reference_logprobs(batch.select(part))
            if algo.num_iterations > 1:
                with torch.no_grad():
                    old[part.start] = self._forward(self.model, batch.select(part))[0]
        sums: dict[str, float] = {}
        tokens = float(batch.loss_mask.sum())
        nonfinite = 0
        grad_norm = torch.tensor(0.0)
        first_part = next(self._micro_batches(batch.size))
        first_old: torch.Tensor | None = None
        grad_scale = self.faults.grad_scale(self.current_step)
        if lr_multiplier != 1.0:
            for group in self.optimizer.param_groups:
                group["lr"] *= lr_multiplier  # the scheduler's next step restores the scheduled value
        self.model.train()
        for iteration in range(algo.num_iterations):
            self.optimizer.zero_grad(set_to_none=True)
            for part in self._micro_batches(batch.size):
                mb = batch.select(part)
                logprobs, entropy = self._forward(self.model, mb, with_entropy=iteration == 0)
                old_lp = old.get(part.start, logprobs.detach())
                if iteration == 0 and part.start == first_part.start:
                    first_old = old_lp
                weights = tis_weights(old_lp, mb.sampling_logprobs, algo.tis_cap) if algo.tis_cap > 0 else None
                loss, metrics = policy_loss(
                    logprobs,
                    old_lp,
                    mb.advantages,
                    mb.loss_mask,
                    clip_low=algo.clip_low,
                    clip_high=algo.clip_high,
                    loss_agg=algo.loss_agg,
                    ref_logprobs=ref.get(part.start),
                    kl_beta=algo.kl_beta,
                    kl_estimator=algo.kl_estimator,
                    max_tokens=self.cfg.rollout.max_tokens,
                    tis_weights=weights,
                )
                share = micro_batch_share(algo.loss_agg, mb.loss_mask, batch.loss_mask)
                (loss * share * grad_scale).backward()
                add_policy_metrics(sums, metrics, float(mb.loss_mask.sum()) / tokens / algo.num_iterations)
                if iteration == 0:
                    sums["learn/loss"] = sums.get("learn/loss", 0.0) + loss.item() * share
                    mask = mb.loss_mask
                    sums["learn/entropy"] = sums.get("learn/entropy", 0.0) + float((entropy * mask).sum()) / tokens
                    diff = (old_lp.detach() - mb.sampling_logprobs).abs()
                    sums["rollout/logprob_abs_diff"] = (
                        sums.get("rollout/logprob_abs_diff", 0.0) + float((diff * mask).sum()) / tokens
                    )
            clip = self.cfg.optim.grad_clip if self.cfg.optim.grad_clip > 0 else float("inf")
            params = [p for p in self.model.parameters() if p.requires_grad]
            grad_norm = torch.nn.utils.clip_grad_norm_(params, clip)
            if not torch.isfinite(grad_norm):
                nonfinite += 1
                self.optimizer.zero_grad(set_to_none=True)  # never let NaN/Inf reach the weights
                continue
            self.optimizer.step()
        lr = self.optimizer.param_groups[0]["lr"]
        update_kl = self._update_kl(batch.select(first_part), first_old) if first_old is not None else 0.0
        self._advance_schedule()
        self.version += 1
        return {
            **sums,
            "learn/update_kl": update_kl,
            "learn/grad_norm": float(grad_norm),
            "learn/lr": lr,
            "learn/tokens": tokens,
            "learn/nonfinite_grads": float(nonfinite),
        }

    def _advance_schedule(self) -> None:
        """The schedule follows steps, including steps that trained on nothing (so resume stays exact);
        torch warns when that happens before the first optimizer step, which is intended here."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
            self.scheduler.step()

    def named_weights(self) -> Iterator[tuple[str, torch.Tensor]]:
        """Full weights under the base model's parameter names, for engine sync. With LoRA each adapted
        weight is W + scale * B @ A, computed fresh: merging into the model and unmerging again would let
        float error creep into W at every sync."""
        model = self.model
        if not hasattr(model, "peft_config"):
            for name, tensor in model.state_dict().items():
                yield name, tensor.detach()
            return
        from peft.tuners.lora import LoraLayer

        base = model.get_base_model()
        deltas = {}
        for name, module in base.named_modules():
            if isinstance(module, LoraLayer):
                adapters = [a for a in module.active_adapters if a in module.lora_A]
                if adapters:
                    deltas[f"{name}.weight"] = sum(module.get_delta_weight(a) for a in adapters)
        with torch.no_grad():
            for name, tensor in base.state_dict().items():
                if "lora_" in name:
                    continue
                clean = name.replace(".base_layer", "")
                yield clean, (tensor + deltas[clean].to(tensor.dtype)) if clean in deltas else tensor.detach()

    def state_dict(self) -> dict:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "version": self.version,
        }

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.version = int(state["version"])


def add_policy_metrics(sums: dict[str, float], metrics: dict[str, float], weight: float) -> None:
    """Fold one micro-batch's `policy_loss` metrics into the step's: `clip_frac`, `ratio_mean` and `kl` as
    token-weighted means over every iteration and micro-batch (`weight` is this micro-batch's share of the
    batch's tokens over the number of iterations), `ratio_min` and `ratio_max` as the extremes. Iteration 0
    alone would always read clip_frac 0 and ratio 1: its old log-probs are the current ones."""
    for key in ("clip_frac", "ratio_mean", "kl"):
        if key in metrics:
            sums[f"learn/{key}"] = sums.get(f"learn/{key}", 0.0) + metrics[key] * weight
    if weight > 0:  # a micro-batch without loss tokens has no ratios
        sums["learn/ratio_min"] = min(sums.get("learn/ratio_min", math.inf), metrics["ratio_min"])
        sums["learn/ratio_max"] = max(sums.get("learn/ratio_max", -math.inf), metrics["ratio_max"])


def micro_batch_share(loss_agg: str, part_mask: torch.Tensor, full_mask: torch.Tensor) -> float:
    """Weight of one micro-batch's loss so that the weighted sum over micro-batches equals the loss of the
    whole batch: token-count share for `token_mean`, sequence-count share for the per-sequence means."""
    if loss_agg == "token_mean":
        return float(part_mask.sum()) / max(1.0, float(full_mask.sum()))
    return part_mask.shape[0] / full_mask.shape[0]


__all__ = ["Learner", "aggregate", "collate", "load_model", "load_tokenizer", "token_logprobs"]
