"""The RolloutEngine protocol every backend implements, and the sampling parameters it takes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from rlvr.types import Rollout, Sample

if TYPE_CHECKING:
    import torch

NamedTensors = Callable[[], Iterable[tuple[str, "torch.Tensor"]]]


@dataclass(frozen=True)
class SamplingParams:
    """What to sample: `n` completions per prompt; temperature 0 means greedy."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


def encode_prompts(tokenizer, prompts: Sequence[str]) -> list[list[int]]:
    """Prompt token ids, the same for every engine: special tokens are added unless the prompt already
    starts with BOS (a chat template writes its own)."""
    bos = tokenizer.bos_token
    return [tokenizer(p, add_special_tokens=not (bos and p.startswith(bos)))["input_ids"] for p in prompts]


def decode_completion(tokenizer, completion_ids: Sequence[int]) -> str:
    """A completion's text, the same function of its token ids in every engine: special tokens (EOS) dropped,
    stop strings kept. vLLM's own `.text` leaves out the stop string while transformers keeps it, so the
    same tokens would be graded differently (`\\boxed{5` vs `\\boxed{5}` with stop=["}"])."""
    return tokenizer.decode(list(completion_ids), skip_special_tokens=True)


class RolloutEngine(Protocol):
    """Generates groups of rollouts with the current policy weights.

    `generate` returns, for each sample, its `params.n` rollouts (token ids, the engine's per-token
    log-probs under log_softmax(logits / T), finish reason, and the weight version that produced them).
    `update_weights` makes the engine sample from the learner's current weights; it returns metrics
    (`rollout/sync_s`, `rollout/sync_mb`).
    """

    weight_version: int

    def generate(self, samples: Sequence[Sample], params: SamplingParams) -> list[list[Rollout]]: ...

    def update_weights(self, named_tensors: NamedTensors, version: int) -> dict[str, float]: ...

    def close(self) -> None: ...
