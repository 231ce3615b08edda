"""The embedded rollout engine: plain `transformers` generation on the learner's own model object.

Colocated by construction: it samples from the very module the learner trains, so "weight sync" is free
(it only bumps the version tag). It runs anywhere transformers runs, CPU included, and is the default.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from rlvr.learner import token_logprobs
from rlvr.rollout.base import NamedTensors, SamplingParams, decode_completion, encode_prompts
from rlvr.types import Rollout, Sample, TrainBatch


class HFEngine:
    """Batched sampling with `model.generate`; returns token ids and sampling log-probs per rollout."""

    def __init__(self, model: torch.nn.Module, tokenizer, *, batch_size: int = 64) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.weight_version = 0
        self.eos_ids = self._eos_ids()

    def _eos_ids(self) -> list[int]:
        ids = self.model.generation_config.eos_token_id if self.model.generation_config else None
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    @torch.no_grad()
    def _generate_chunk(
        self, prompt_ids: list[list[int]], params: SamplingParams
    ) -> list[tuple[list[int], list[float], str]]:
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]
        width = max(len(p) for p in prompt_ids)
        device = next(self.model.parameters()).device
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompt_ids], device=device)
        attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompt_ids], device=device)
        kwargs = {}
        if not params.greedy:
            kwargs = {
                "do_sample": True,
                "temperature": params.temperature,
                "top_p": params.top_p,
                "top_k": params.top_k or None,
            }
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        was_training = self.model.training
        self.model.eval()
        try:
            sequences = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                max_new_tokens=params.max_tokens,
                do_sample=kwargs.pop("do_sample", False),
                pad_token_id=pad,
                eos_token_id=self.eos_ids,
                **kwargs,
            )
            rows = [self._finish(row, params) for row in sequences[:, width:].tolist()]
            logprobs = self._logprobs(input_ids, attention_mask, rows, pad, params.temperature)
        finally:
            self.model.train(was_training)
        return [(row, lp, reason) for (row, reason), lp in zip(rows, logprobs, strict=True)]

    def _logprobs(self, input_ids, attention_mask, rows, pad: int, temperature: float) -> list[list[float]]:
        """The sampled tokens' log-probs under log_softmax(logits / T), from one teacher-forced forward pass
        (the learner's own function). Asking `generate` for its logits instead would keep a float32
        `[batch, vocab]` copy per generated token: 2.5 GB for 8 x 512 tokens of a 150k vocabulary."""
        width = max(1, max(len(r) for r, _ in rows))
        completion = torch.tensor([r + [pad] * (width - len(r)) for r, _ in rows], device=input_ids.device)
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r, _ in rows], device=input_ids.device)
        batch = TrainBatch(
            input_ids, attention_mask, completion, mask, mask.float(), torch.zeros(len(rows)), mask.float()
        )
        logprobs, _ = token_logprobs(self.model, batch, temperature)
        return [lp[: len(r)] for lp, (r, _) in zip(logprobs.tolist(), rows, strict=True)]

    def _finish(self, row: list[int], params: SamplingParams) -> tuple[list[int], str]:
        """Cut a generated row at EOS (kept, it is a sampled token) or at the end of a stop string."""
        for t, token in enumerate(row):
            if token in self.eos_ids:
                return row[: t + 1], "stop"
        if params.stop:
            for t in range(1, len(row) + 1):
                if any(s in self.tokenizer.decode(row[:t]) for s in params.stop):
                    return row[:t], "stop"
        return row, "length"

    def generate(self, samples: Sequence[Sample], params: SamplingParams) -> list[list[Rollout]]:
        if params.seed is not None:
            torch.manual_seed(params.seed)
        prompt_ids = encode_prompts(self.tokenizer, [s.prompt for s in samples])
        flat = [(i, ids) for i, ids in enumerate(prompt_ids) for _ in range(params.n)]
        outputs: list[tuple[list[int], list[float], str]] = []
        for start in range(0, len(flat), self.batch_size):
            outputs += self._generate_chunk([ids for _, ids in flat[start : start + self.batch_size]], params)
        groups: list[list[Rollout]] = [[] for _ in samples]
        for (i, ids), (completion_ids, logprobs, reason) in zip(flat, outputs, strict=True):
            groups[i].append(
                Rollout(
                    sample=samples[i],
                    prompt_ids=ids,
                    completion_ids=completion_ids,
                    completion=decode_completion(self.tokenizer, completion_ids),
                    logprobs=logprobs,
                    finish_reason=reason,
                    weight_version=self.weight_version,
                )
            )
        return groups

    def update_weights(self, named_tensors: NamedTensors, version: int) -> dict[str, float]:
        """Nothing to copy: this engine samples from the learner's own module. Only the version moves."""
        start = time.perf_counter()
        self.weight_version = version
        return {"rollout/sync_s": time.perf_counter() - start, "rollout/sync_mb": 0.0}

    def close(self) -> None:
        """Nothing to release: the model belongs to the learner."""
