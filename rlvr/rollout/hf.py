"""The embedded rollout engine: a plain PyTorch decode loop over a `transformers` model.

Colocated by construction: it samples from the very module the learner trains, so "weight sync" is free
(it only bumps the version tag). It runs anywhere transformers runs, CPU included, and is the default.

Why our own loop and not `model.generate`: three things `generate` cannot do that matter for RL rollouts.
* The sampling log-probs come out of sampling itself (`log_softmax(logits / T)` of the drawn token, the value
  the learner recomputes), so no second teacher-forced forward pass is needed; `generate` would have to keep a
  float32 `[batch, vocab]` row per generated token to give them (20 GB for 64 x 512 tokens of Qwen3's vocab).
* Each prompt is prefilled once and its KV cache repeated for its `n` rollouts, not prefilled `n` times.
* Finished rows leave the batch (their cache rows are dropped), so a group whose answers are short stops
  paying for the one that runs to `max_tokens`.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch
from transformers import DynamicCache

from rlvr.rollout.base import InProcessEngine, NamedTensors, SamplingParams, decode_completion, encode_prompts
from rlvr.types import Rollout, Sample

if TYPE_CHECKING:
    from rlvr.config import TrainConfig


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """`[B, V]` logits with everything outside the top-k / the top-p nucleus set to -inf (the smallest set of
    most likely tokens whose probability reaches top_p; the most likely token always stays)."""
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of the tokens ranked above each one
        remove_sorted = before >= top_p
        remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
        logits = logits.masked_fill(remove, float("-inf"))
    return logits


@dataclass
class _Row:
    """One rollout being decoded."""

    prompt: int  # index into the chunk's prompts
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    finish_reason: str = "length"


def _cache_keyword(model: torch.nn.Module) -> str:
    """The forward keyword of the KV cache: `cache` from transformers 5.24 on (`past_key_values` is deprecated
    there and warns at every decode step), `past_key_values` before."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # under a PEFT wrapper
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


class HFEngine(InProcessEngine):
    """Batched sampling with a KV-cached decode loop; returns token ids and sampling log-probs per rollout.

    Colocated it samples from the learner's own module (`owns_model=False`); in an actor process it owns a
    copy (`standalone`) that `update_weights` overwrites.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, *, batch_size: int = 64, owns_model: bool = False) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size  # rollouts decoded together
        self.owns_model = owns_model
        self.weight_version = 0
        self.eos_ids = self._eos_ids()

    @classmethod
    def standalone(cls, cfg: TrainConfig) -> HFEngine:
        """An engine with its own copy of the model (in an actor process), in the sampling dtype; the learner's
        weights (LoRA merged) arrive by `update_weights`, so no adapter or checkpoint is loaded here."""
        from rlvr.config import LoraConfig
        from rlvr.model import load_model, load_tokenizer, resolve_device

        model_cfg = replace(cfg.model, lora=LoraConfig(rank=0), adapter=None, checkpoint=None)
        model_cfg = replace(model_cfg, master_dtype=cfg.model.dtype)
        model = load_model(model_cfg, resolve_device(cfg.model.device)).requires_grad_(False).eval()
        return cls(model, load_tokenizer(cfg.model), batch_size=cfg.rollout.batch_size, owns_model=True)

    def _eos_ids(self) -> list[int]:
        ids = self.model.generation_config.eos_token_id if self.model.generation_config else None
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    def _hits_stop(self, tokens: list[int], stop: tuple[str, ...]) -> bool:
        """Did the newest token complete a stop string? Only the tail is decoded: a stop string of L characters
        ends within the last L tokens (every token but a special one has at least one character)."""
        window = max(len(s) for s in stop) + 1
        tail = self.tokenizer.decode(tokens[-window:], skip_special_tokens=True)
        return any(s in tail for s in stop)

    @torch.no_grad()
    def _decode(
        self, prompts: list[list[int]], params: SamplingParams, generator: torch.Generator | None
    ) -> list[_Row]:
        """`params.n` rollouts of each prompt, in order (prompt 0's n rows first)."""
        model = self.model
        device = next(model.parameters()).device
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]
        width = max(len(p) for p in prompts)
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        cache = DynamicCache(config=model.config)
        cache_arg = {_cache_keyword(model): cache}
        out = model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **cache_arg,
        )
        n = params.n
        cache.batch_repeat_interleave(n)  # each prompt prefilled once, its cache shared by its n rollouts
        logits = out.logits[:, -1].repeat_interleave(n, dim=0)
        mask = mask.repeat_interleave(n, dim=0)
        next_position = positions[:, -1:].repeat_interleave(n, dim=0) + 1
        rows = [_Row(prompt=i) for i in range(len(prompts)) for _ in range(n)]
        alive = list(range(len(rows)))  # rows still decoding, in batch order
        eos = torch.tensor(self.eos_ids, device=device)
        scale = params.temperature if params.temperature > 0 else 1.0
        for step in range(params.max_tokens):
            scores = logits.float() / scale
            logp = torch.log_softmax(scores, dim=-1)  # the distribution the learner recomputes
            if params.greedy:
                tokens = scores.argmax(dim=-1)
            else:
                sampling = filter_logits(scores, params.top_k, params.top_p)
                tokens = torch.multinomial(torch.softmax(sampling, dim=-1), 1, generator=generator).squeeze(1)
            token_logp = logp.gather(1, tokens[:, None]).squeeze(1)
            finished = torch.isin(tokens, eos)
            keep = []
            for i, (row_index, token, lp, done) in enumerate(
                zip(alive, tokens.tolist(), token_logp.tolist(), finished.tolist(), strict=True)
            ):
                row = rows[row_index]
                row.tokens.append(token)
                row.logprobs.append(lp)
                if done or (params.stop and self._hits_stop(row.tokens, params.stop)):
                    row.finish_reason = "stop"
                else:
                    keep.append(i)
            if not keep or step == params.max_tokens - 1:
                break
            if len(keep) < len(alive):  # finished rows leave the batch and its cache
                index = torch.tensor(keep, device=device)
                cache.batch_select_indices(index)
                tokens, mask, next_position = tokens[index], mask[index], next_position[index]
                alive = [alive[i] for i in keep]
            mask = torch.cat([mask, mask.new_ones(len(alive), 1)], dim=1)
            logits = model(
                input_ids=tokens[:, None],
                attention_mask=mask,
                position_ids=next_position,
                use_cache=True,
                **cache_arg,
            ).logits[:, -1]
            next_position = next_position + 1
        return rows

    def generate(self, samples: Sequence[Sample], params: SamplingParams) -> list[list[Rollout]]:
        generator = None
        if params.seed is not None:
            device = next(self.model.parameters()).device
            generator = torch.Generator(device=device).manual_seed(params.seed)
        prompt_ids = encode_prompts(self.tokenizer, [s.prompt for s in samples])
        prompts_per_chunk = max(1, self.batch_size // params.n)
        was_training = self.model.training
        self.model.eval()
        rows: list[_Row] = []
        try:
            for start in range(0, len(samples), prompts_per_chunk):
                chunk = prompt_ids[start : start + prompts_per_chunk]
                for row in self._decode(chunk, params, generator):
                    row.prompt += start
                    rows.append(row)
        finally:
            self.model.train(was_training)
        groups: list[list[Rollout]] = [[] for _ in samples]
        for row in rows:
            groups[row.prompt].append(
                Rollout(
                    sample=samples[row.prompt],
                    prompt_ids=prompt_ids[row.prompt],
                    completion_ids=row.tokens,
                    completion=decode_completion(self.tokenizer, row.tokens),
                    logprobs=row.logprobs,
                    finish_reason=row.finish_reason,
                    weight_version=self.weight_version,
                )
            )
        return groups

    def update_weights(self, named_tensors: NamedTensors, version: int) -> dict[str, float]:
        """Colocated there is nothing to copy (the learner's own module), only the version moves; a standalone
        engine copies the tensors into its model."""
        start = time.perf_counter()
        size = 0.0
        if self.owns_model:
            tensors = dict(named_tensors())
            missing, unexpected = self.model.load_state_dict(tensors, strict=False)
            tied = set(getattr(self.model, "_tied_weights_keys", None) or [])
            if [m for m in missing if m not in tied] or unexpected:
                raise ValueError(
                    f"weights do not fit the engine's model: missing {missing[:3]}, unexpected {unexpected[:3]}"
                )
            size = sum(t.numel() * t.element_size() for t in tensors.values()) / 2**20
        self.weight_version = version
        return {"rollout/sync_s": time.perf_counter() - start, "rollout/sync_mb": size}

    def receive_broadcasts(self, channel: dict[str, Any], member: str) -> None:
        from rlvr.rollout.broadcast import start_receiver

        start_receiver(channel, f"{member}.w0", next(self.model.parameters()).device)

    def close(self) -> None:
        """Nothing to release: the model belongs to the learner."""
