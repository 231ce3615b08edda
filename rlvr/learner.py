"""The learner: owns the trained weights, their optimizer and schedule, and makes the GRPO update.

It knows nothing about generation or rewards: `step(batch)` takes a `TrainBatch` and returns `learn/*` metrics.
The batch is cut into trimmed micro-batches (`rlvr.batching`), token log-probs come from the decoder's hidden
states without a `[batch, tokens, vocab]` tensor (`rlvr.logprobs`), and the loss is `rlvr.algo.policy_loss`
with the recipe's `LossSettings`. A log-prob forward without gradient happens only where the objective needs
one: the proximal policy when `algo.num_iterations > 1`, the reference when `algo.kl_beta > 0`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from rlvr.algo import LossSettings, kl_penalty, policy_loss
from rlvr.batching import BatchTotals, length_order, micro_batch_share, micro_batches, trimmed, zero_weighted
from rlvr.checkpoint import (
    CheckpointError,
    detached_copies,
    load_model_tensors,
    load_optimizer,
    model_tensors,
    readable_safetensors,
    save_optimizer,
    save_pretrained_atomically,
)
from rlvr.config import OptimConfig, TrainConfig
from rlvr.distributed.fsdp import ShardedPolicy, full, is_sharded, shard
from rlvr.distributed.ranks import Ranks
from rlvr.errors import ConfigError
from rlvr.faults import Faults
from rlvr.hooks import RunHooks
from rlvr.logprobs import shares_prompts, token_logprobs
from rlvr.model import DTYPES, load_model
from rlvr.types import TrainBatch

UPDATE_KL_ROWS = 8  #: rows of a step whose KL(old || new) `learn/update_kl` estimates (the monitor's kl_spike)


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
    """Owns the trained weights and their optimizer. `step(batch)` is one GRPO update.

    With `ranks` (a learner rank of `rlvr.distributed`), `model` is sharded with FSDP2 and `step` trains on this
    rank's slice of the step's batch; the loss is scaled by the slice's share of the whole batch (`totals`) and
    the metrics are reduced across ranks, so every number is the one a single process would report."""

    def __init__(
        self,
        cfg: TrainConfig,
        model: torch.nn.Module,
        device: torch.device,
        hooks: RunHooks | None = None,
        ranks: Ranks | None = None,
    ) -> None:
        self.cfg = cfg
        # sharded (a learner rank): `model` is the FSDP root around the policy; the log-probs run through it
        self.root = model if isinstance(model, ShardedPolicy) else None
        self.model = model = model.model if isinstance(model, ShardedPolicy) else model
        self.device = device
        self.ranks = ranks
        self.version = 0
        # the run's hooks (gradient and logit factors); by default the faults of `cfg.fault`
        self.hooks = hooks if hooks is not None else Faults.from_config(dict(cfg.fault))
        if self.hooks.scales_logits:
            model.register_forward_hook(self._scale_logits)
        # No KL, no reference model: with kl_beta = 0 nothing else is loaded (memory is the policy only).
        self.ref_model = None
        if cfg.algo.kl_beta > 0 and cfg.model.lora.rank == 0:
            self.ref_model = load_model(cfg.model, device).eval().requires_grad_(False)
            if ranks is not None:
                self.ref_model = shard(self.ref_model, cfg)
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError(f"model {cfg.model.path!r} has no trainable weights (frozen, or only an adapter's base?)")
        self._trainable = params
        is_lora = hasattr(model, "peft_config")
        if is_lora:
            check_lora_syncs(model)
        lr = cfg.optim.lora_lr if is_lora and cfg.optim.lora_lr is not None else cfg.optim.lr
        self.optimizer = torch.optim.AdamW(
            params, lr=lr, betas=tuple(cfg.optim.betas), weight_decay=cfg.optim.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(cfg.optim, max(1, cfg.steps)))
        self.autocast_dtype = DTYPES[cfg.model.dtype] if cfg.model.dtype != cfg.model.master_dtype else None
        self.loss_settings = LossSettings.from_config(cfg.algo, cfg.rollout.max_tokens)
        # learn/update_kl feeds the monitor's kl_spike rule when there is no reference model: skip its forward
        # when nothing reads it
        self.watch_update_kl = cfg.monitor.enabled and cfg.monitor.kl_spike.enabled and cfg.algo.kl_beta == 0
        self._in_forward = False

    @property
    def current_step(self) -> int:
        """The run's step in progress: steps completed (the weight version) + 1. Generation for a step runs
        before its update, so the engine and the learner see the same step."""
        return self.version + 1

    def _scale_logits(self, module: torch.nn.Module, args, output):
        """Forward hook applying the hooks' logit factor in generation; the learner's own forwards apply it
        themselves (they take the decoder's hidden states, not the model's logits)."""
        factor = self.hooks.logit_multiplier(self.current_step)
        if factor != 1.0 and not self._in_forward:
            output.logits = output.logits * factor
        return output

    def _forward(self, model: torch.nn.Module, batch: TrainBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probs and entropies `[B, C]` of the batch's completion tokens under log_softmax(logits / T)."""
        factor = self.hooks.logit_multiplier(self.current_step) if self.hooks.scales_logits else 1.0
        temperature = self.cfg.rollout.temperature if self.cfg.rollout.temperature > 0 else 1.0
        input_ids = torch.cat([batch.prompt_ids, batch.completion_ids], dim=1)
        attention_mask = torch.cat([batch.prompt_mask, batch.completion_mask], dim=1)
        if model is self.model and self.root is not None:
            model = self.root  # its forward gathers the shards the log-probs need (rlvr.distributed.fsdp)
        forward = model if isinstance(model, ShardedPolicy) else partial(token_logprobs, model)
        self._in_forward = True
        try:
            with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
                return forward(input_ids, attention_mask, batch.completion_mask, temperature / factor)
        finally:
            self._in_forward = False

    @torch.no_grad()
    def logprobs(self, batch: TrainBatch) -> torch.Tensor:
        """The policy's log-probs `[B, C]` of the batch's completion tokens (what the loss sees), no gradient."""
        batch = TrainBatch(**{name: getattr(batch, name).to(self.device) for name in batch.__dataclass_fields__})
        return self._forward(self.model, batch)[0]

    @torch.no_grad()
    def _reference_logprobs(self, batch: TrainBatch) -> torch.Tensor:
        if self.ref_model is not None:
            return self._forward(self.ref_model, batch)[0]
        with self.model.disable_adapter():  # LoRA: the base model is the reference, no second copy
            # peft turns the adapter's requires_grad off while it is disabled; sharded, this may be the first
            # forward, where FSDP2 sets its gradient reduce dtype from the parameters that require grad (none:
            # no float32 reduction under bf16 compute). No gradient flows here either way (no_grad).
            for param in self._trainable:
                param.requires_grad_(True)
            return self._forward(self.model, batch)[0]

    def _micro_batches(self, batch: TrainBatch) -> list[TrainBatch]:
        optim = self.cfg.optim
        return micro_batches(
            batch,
            max_sequences=optim.micro_batch_size,
            max_tokens=optim.micro_batch_tokens,
            share_prompts=shares_prompts(self.model),
        )

    def scale_lr(self, factor: float) -> None:
        """Multiply the learning rate, now and for the rest of the schedule (rollback mitigation)."""
        for group in self.optimizer.param_groups:
            group["lr"] *= factor
            group["initial_lr"] *= factor
        self.scheduler.base_lrs = [lr * factor for lr in self.scheduler.base_lrs]

    def _update_kl_rows(self) -> int:
        """How many rows of this rank's batch `_update_kl` watches: `UPDATE_KL_ROWS` over the whole step. The
        micro-batches hold the rows in `length_order` and `split_rows` deals that order out in turn, so the
        first rows of every rank together are the rows one process would take."""
        return max(1, UPDATE_KL_ROWS // (self.ranks.world_size if self.ranks else 1))

    @torch.no_grad()
    def _update_kl(self, batch: TrainBatch, watched: list[torch.Tensor]) -> tuple[float, float]:
        """How far the update moved the policy: k3 estimate of KL(old || new) over the loss tokens of the
        step's longest rows (`watched`: the old log-probs of the first rows of the micro-batches, in order; one
        small extra forward, for the monitor's kl_spike rule, enough to see a spike); returns (weighted sum,
        weight) so ranks can add theirs up. One forward on every rank, whatever its micro-batches: FSDP's
        gathers need them all."""
        mb = trimmed(batch.select(torch.tensor(length_order(batch)[: sum(len(old) for old in watched)])))
        width = mb.completion_ids.shape[1]
        old_logprobs = torch.cat([torch.nn.functional.pad(old, (0, width - old.shape[1])) for old in watched])
        new_logprobs, _ = self._forward(self.model, mb)
        kl = kl_penalty(old_logprobs, new_logprobs, "k3") * mb.loss_mask
        return float(kl.sum()), float(mb.loss_mask.sum())

    def step(
        self, batch: TrainBatch, lr_multiplier: float = 1.0, totals: BatchTotals | None = None
    ) -> dict[str, float]:
        """One optimizer step (or `algo.num_iterations` of them) on `batch`; returns `learn/*` metrics.

        `lr_multiplier` scales this step's learning rate only (fault injection rehearses an LR spike). `totals`:
        the whole step's tokens and rows when `batch` is this rank's slice of it (default: `batch` is all)."""
        algo = self.cfg.algo
        batch = TrainBatch(**{name: getattr(batch, name).to(self.device) for name in batch.__dataclass_fields__})
        totals = totals or BatchTotals.of(batch)
        if totals.rows == 0 or totals.tokens == 0:
            self._advance_schedule()
            self.version += 1
            return {"learn/skipped": 1.0, "learn/tokens": 0.0}
        parts = self._micro_batches(batch)
        real_parts = len(parts)
        if self.ranks is not None:  # every rank runs as many forwards and backwards as the busiest one
            parts += [zero_weighted(parts[-1].select(slice(0, 1)))] * (self.ranks.max_count(len(parts)) - len(parts))
        # the forwards without gradient that the objective needs, once each
        ref = [self._reference_logprobs(mb) for mb in parts] if algo.kl_beta > 0 else [None] * len(parts)
        old: list[torch.Tensor | None] = [None] * len(parts)
        if algo.num_iterations > 1:  # the proximal policy: the learner before this update
            with torch.no_grad():
                old = [self._forward(self.model, mb)[0] for mb in parts]
        sums: dict[str, float] = {}
        tokens = totals.tokens
        nonfinite = 0
        grad_norm = torch.tensor(0.0)
        watched: list[torch.Tensor] = []  # old log-probs of the rows `_update_kl` compares
        watch_rows = self._update_kl_rows() if self.watch_update_kl else 0
        grad_scale = self.hooks.grad_multiplier(self.current_step)
        if lr_multiplier != 1.0:
            for group in self.optimizer.param_groups:
                group["lr"] *= lr_multiplier  # the scheduler's next step restores the scheduled value
        self.model.train()  # dropout (the model's, LoRA's) in the forwards with gradient only: back to eval below
        for iteration in range(algo.num_iterations):
            self.optimizer.zero_grad(set_to_none=True)
            for index, mb in enumerate(parts):
                logprobs, entropy = self._forward(self.model, mb)
                old_lp = old[index] if old[index] is not None else logprobs.detach()
                if iteration == 0 and watch_rows > 0 and index < real_parts:  # not a rank's zero-weighted pads
                    take = min(watch_rows, mb.size)
                    watched.append(old_lp[:take])
                    watch_rows -= take
                loss, metrics = policy_loss(
                    logprobs, old_lp, mb.advantages, mb.loss_mask, self.loss_settings,
                    ref_logprobs=ref[index], sampling_logprobs=mb.sampling_logprobs,
                )  # fmt: skip
                share = micro_batch_share(algo.loss_agg, mb.loss_mask, totals)
                (loss * share * grad_scale).backward()
                add_policy_metrics(sums, metrics, float(mb.loss_mask.sum()) / tokens / algo.num_iterations)
                if iteration == 0:
                    mask = mb.loss_mask
                    sums["learn/loss"] = sums.get("learn/loss", 0.0) + loss.item() * share
                    sums["learn/entropy"] = sums.get("learn/entropy", 0.0) + float((entropy * mask).sum()) / tokens
                    diff = (old_lp.detach() - mb.sampling_logprobs).abs()
                    sums["rollout/logprob_abs_diff"] = (
                        sums.get("rollout/logprob_abs_diff", 0.0) + float((diff * mask).sum()) / tokens
                    )
            clip = self.cfg.optim.grad_clip if self.cfg.optim.grad_clip > 0 else float("inf")
            params = [p for p in self.model.parameters() if p.requires_grad]
            grad_norm = full(torch.nn.utils.clip_grad_norm_(params, clip))  # of the whole gradient, on every rank
            if not torch.isfinite(grad_norm):
                nonfinite += 1
                self.optimizer.zero_grad(set_to_none=True)  # never let NaN/Inf reach the weights
                continue
            self.optimizer.step()
        self.model.eval()  # the update-KL forward, a colocated engine's generation and next step's old log-probs
        lr = self.optimizer.param_groups[0]["lr"]
        if watched:
            sums["update_kl_sum"], sums["update_kl_tokens"] = self._update_kl(batch, watched)
        self._advance_schedule()
        self.version += 1
        sums["learn/micro_batches"] = float(real_parts)
        if self.ranks is not None:
            extremes = {name: (name[-3:], sums.pop(name, math.inf if name.endswith("min") else -math.inf))
                        for name in ("learn/ratio_min", "learn/ratio_max")}  # fmt: skip
            sums = self.ranks.combine(sums, extremes)
        kl_sum, kl_tokens = sums.pop("update_kl_sum", 0.0), sums.pop("update_kl_tokens", 0.0)
        update_kl = kl_sum / max(1.0, kl_tokens)
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
        float error creep into W at every sync. Sharded, each tensor (and an adapter's A and B) is gathered
        when it is yielded, in the same order on every rank: no rank holds the whole model at once."""
        model = self.model
        if not hasattr(model, "peft_config"):
            for name, tensor in model.state_dict().items():
                yield name, full(tensor.detach())  # sharded: gathered one tensor at a time, on every rank
            return
        adapted = lora_layers(model)
        with torch.no_grad():
            for name, tensor in model.get_base_model().state_dict().items():
                if "lora_" in name:
                    continue
                clean = name.replace(".base_layer", "")
                weight = full(tensor.detach())
                if clean in adapted:
                    weight = weight + lora_delta(adapted[clean]).to(weight.dtype)
                yield clean, weight

    def state_dict(self) -> dict:
        """LR schedule and weight version (the weights and optimizer are `save`'s)."""
        return {"scheduler": self.scheduler.state_dict(), "version": self.version}

    def load_state_dict(self, state: dict) -> None:
        if "optimizer" in state:  # a checkpoint of an earlier rlvr kept the optimizer in state.pt
            self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.version = int(state["version"])

    def save(self, directory: Path) -> None:
        """Weights (whole, into `model.safetensors`) and optimizer state (`optimizer/`, sharded) into
        `directory`; see `rlvr.checkpoint`. Every rank of a learner group calls it."""
        tensors = self._full_tensors()
        if tensors is not None:
            save_file(tensors, directory / "model.safetensors")
            readable_safetensors(directory)
        save_optimizer(self.model, self.optimizer, directory / "optimizer")

    def load(self, directory: Path) -> None:
        """What `save` wrote, whatever the number of ranks that wrote it."""
        try:
            tensors = load_file(directory / "model.safetensors", device=str(self.device))
        except (OSError, RuntimeError) as exc:
            raise CheckpointError(f"cannot load checkpoint {directory}: {exc}") from None
        if is_sharded(self.model):
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

            lora = hasattr(self.model, "peft_config")
            if lora:  # an adapter file names its tensors without the adapter's name: the model's names for them
                tensors = adapter_tensors_by_model_name(self.model, tensors)
            set_model_state_dict(self.model, tensors, options=StateDictOptions(full_state_dict=True, strict=not lora))
        else:
            load_model_tensors(self.model, tensors)
        load_optimizer(self.model, self.optimizer, directory / "optimizer")

    def save_pretrained(self, out: Path, tokenizer) -> None:
        """The policy as a transformers checkpoint (the run's final `model/`), written atomically."""
        tensors = self._full_tensors()
        if tensors is not None:
            save_pretrained_atomically(
                self.model, tokenizer, out, state_dict=self._tied(tensors) if self.ranks else None
            )

    def weight_specs(self) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
        """Name, whole shape and dtype of each tensor `named_weights` yields, known without gathering a shard
        (so rank 0 can write the header of a weight file before the first gather)."""
        if not hasattr(self.model, "peft_config"):
            return [(name, tuple(t.shape), t.dtype) for name, t in self.model.state_dict().items()]
        state = self.model.get_base_model().state_dict()
        return [(n.replace(".base_layer", ""), tuple(t.shape), t.dtype) for n, t in state.items() if "lora_" not in n]

    def _tied(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Tied weights as one tensor under both names, which is how `save_pretrained` recognises them (it
        writes a tied output layer once, as the model's own checkpoint has it)."""
        tied = getattr(self.model, "_tied_weights_keys", None)
        if isinstance(tied, dict) and getattr(self.model.config, "tie_word_embeddings", False):
            tensors = dict(tensors)
            for target, source in tied.items():
                if target in tensors and source in tensors:
                    tensors[target] = tensors[source]
        return tensors

    def _full_tensors(self) -> dict[str, torch.Tensor] | None:
        """The whole weights as a checkpoint stores them (with LoRA, the adapter); with ranks, gathered on rank 0
        (None elsewhere)."""
        if not is_sharded(self.model):
            return model_tensors(self.model) if self.ranks is None or self.ranks.rank == 0 else None
        if hasattr(self.model, "peft_config"):  # the adapter's tensors only: the frozen base is not gathered
            from peft import get_peft_model_state_dict

            state = {n: full(t.detach()).cpu() for n, t in self.model.state_dict().items() if "lora_" in n}
            if self.ranks is not None and self.ranks.rank != 0:
                return None
            return detached_copies(get_peft_model_state_dict(self.model, state_dict=state))
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        state = get_model_state_dict(self.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if self.ranks is not None and self.ranks.rank != 0:
            return None
        return detached_copies(state)


def check_lora_syncs(model: torch.nn.Module) -> None:
    """A ConfigError unless every trained tensor of the PEFT `model` is the A or B of a LoRA linear layer:
    that is what `named_weights` merges into the base weights the engines load. An adapter given as
    `model.adapter` may hold more (DoRA's magnitudes, LoRA on embeddings, trained biases, `modules_to_save`),
    and the engines would silently sample from weights without it."""
    from peft.tuners.lora import Linear, LoraLayer

    adapter = getattr(model, "active_adapter", "default")
    config = model.peft_config[adapter]
    problems = []
    if getattr(config, "use_dora", False):
        problems.append("DoRA (use_dora)")
    if getattr(config, "bias", "none") != "none":
        problems.append(f"bias={config.bias!r}")
    if getattr(config, "modules_to_save", None):
        problems.append(f"modules_to_save={list(config.modules_to_save)}")
    for name, module in model.get_base_model().named_modules():
        if isinstance(module, LoraLayer) and not isinstance(module, Linear):
            problems.append(f"LoRA on {name} ({type(module).__name__}, not a linear layer)")
    tied = getattr(model.config, "tie_word_embeddings", False)
    if tied and any(name.endswith("lm_head.weight") for name in lora_layers(model)):
        problems.append("LoRA on lm_head, whose weight is tied to the input embeddings")
    trained = [
        n for n, p in model.named_parameters() if p.requires_grad and ".lora_A." not in n and ".lora_B." not in n
    ]
    problems += [f"trained tensor {n}" for n in trained[:3]]
    if problems:
        raise ConfigError(
            f"the LoRA adapter cannot be synced to the rollout engines: {'; '.join(problems[:3])} (rlvr merges "
            "plain LoRA on linear layers: W + scale * B @ A)"
        )


def lora_layers(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The LoRA-adapted layers of a PEFT model with an active adapter, by their base weight's name."""
    from peft.tuners.lora import LoraLayer

    layers = {}
    for name, module in model.get_base_model().named_modules():
        if isinstance(module, LoraLayer) and any(a in module.lora_A for a in module.active_adapters):
            layers[f"{name}.weight"] = module
    return layers


def lora_delta(module: torch.nn.Module) -> torch.Tensor:
    """scale * B @ A of a LoRA linear layer, summed over its active adapters. Unsharded this is peft's own
    `get_delta_weight`; sharded (FSDP2), A and B are gathered first (every rank, in the same order), because
    peft's matmul of two shards would be a distributed matmul of a DTensor."""
    adapters = [a for a in module.active_adapters if a in module.lora_A]
    if not is_sharded(module):
        return sum(module.get_delta_weight(a) for a in adapters)
    total = None
    for adapter in adapters:
        a, b = full(module.lora_A[adapter].weight), full(module.lora_B[adapter].weight)
        delta = b.float() @ a.float()
        delta = (delta.T if module.fan_in_fan_out else delta) * module.scaling[adapter]
        total = delta if total is None else total + delta
    return total


def adapter_tensors_by_model_name(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A saved adapter's tensors (peft drops the adapter's name from each key) under the model's own names."""
    adapter = getattr(model, "active_adapter", "default")
    names = {n.replace(f".{adapter}.", "."): n for n in model.state_dict() if "lora_" in n}
    unknown, missing = sorted(set(tensors) - set(names)), sorted(set(names) - set(tensors))
    if unknown or missing:
        raise CheckpointError(
            f"adapter checkpoint does not match the model: unexpected {unknown[:3]}, missing {missing[:3]}"
        )
    return {names[n]: t for n, t in tensors.items()}


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
