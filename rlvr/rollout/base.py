"""The RolloutEngine protocol every backend implements, the sampling parameters it takes, and its errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from rlvr.errors import RlvrError
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


class RolloutError(RlvrError):
    """The rollout engine failed in a way the user must act on (it would not start, it kept dying, a request
    it refuses); the message carries the engine's own reason."""


class Pending(Protocol):
    """A generation under way: `result()` waits for it (raising what the engine raised)."""

    def result(self) -> list[list[Rollout]]: ...


@dataclass
class Done:
    """A generation that finished when it was submitted (engines in the learner's own process)."""

    value: Any

    def result(self) -> Any:
        return self.value


class RolloutEngine(Protocol):
    """Generates groups of rollouts with the current policy weights.

    `generate` returns, for each sample, its `params.n` rollouts (token ids, the engine's per-token
    log-probs under log_softmax(logits / T), finish reason, and the weight version that produced them).
    `submit` starts the same work and returns at once when the engine runs elsewhere (actors), so the learner
    can train meanwhile; engines in the learner's process do the work before returning.
    `update_weights` makes every later generation sample from the learner's current weights; it returns
    metrics (`rollout/sync_s`, `rollout/sync_mb`). `restarts` counts engine restarts, `events()` hands over
    (and forgets) what happened since the last call, for the run's log.
    """

    weight_version: int
    restarts: int

    def generate(self, samples: Sequence[Sample], params: SamplingParams) -> list[list[Rollout]]: ...

    def submit(self, samples: Sequence[Sample], params: SamplingParams) -> Pending: ...

    def update_weights(self, named_tensors: NamedTensors, version: int) -> dict[str, float]: ...

    def events(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class InProcessEngine:
    """What an engine in the learner's own process does for the parts of the protocol it has no use for."""

    weight_version: int = 0
    restarts: int = 0

    def generate(self, samples: Sequence[Sample], params: SamplingParams) -> list[list[Rollout]]:
        raise NotImplementedError

    def submit(self, samples: Sequence[Sample], params: SamplingParams) -> Pending:
        return Done(self.generate(samples, params))

    def update_weights(self, named_tensors: NamedTensors, version: int) -> dict[str, float]:
        raise NotImplementedError

    def update_weights_from(self, payload: dict[str, Any], version: int) -> dict[str, float]:
        """Load weights the learner packed in another process (`rlvr.rollout.weights`)."""
        from rlvr.rollout.weights import decode

        tensors = decode(payload)
        return self.update_weights(lambda: tensors.items(), version)

    def receive_broadcasts(self, channel: dict[str, Any], member: str) -> None:
        """Start receiving weights broadcast over `channel` as `member` (`rlvr.rollout.broadcast`), in the
        process that holds the engine's model."""
        raise NotImplementedError(f"{type(self).__name__} cannot receive broadcast weights")

    def events(self) -> list[dict[str, Any]]:
        return []
