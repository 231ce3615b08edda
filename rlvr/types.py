"""The data that flows through a step: Sample -> Rollout -> Group -> TrainBatch. Nothing else is passed around.

Each stage takes the previous type and returns the next; no stage reaches back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Sample:
    """One prompt of the dataset, already rendered with its template.

    `answer` is the gold answer for verifiers that need one (math), `tests` the unit tests for code;
    `metadata` carries anything else a reward function or the eval breakdown wants (subject, level).
    """

    id: str
    prompt: str
    answer: str | None = None
    tests: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def for_reward(self) -> dict[str, Any]:
        """The plain-dict view a reward function receives (rewards/ does not import rlvr).

        The row's other columns come first and the sample's own fields last: with `data.answer_key=final` a
        row that also has a column named `answer` must be graded against `final`, never the decoy."""
        return {**self.metadata, "id": self.id, "prompt": self.prompt, "answer": self.answer, "tests": self.tests}


@dataclass
class Rollout:
    """One sampled completion of a sample, with what the engine knew when it sampled it.

    `logprobs[t]` is the engine's log-probability of `completion_ids[t]` under the temperature-scaled
    distribution (log_softmax(logits / T)); `finish_reason` is "stop" (EOS or stop string) or "length".
    """

    sample: Sample
    prompt_ids: list[int]
    completion_ids: list[int]
    completion: str
    logprobs: list[float]
    finish_reason: str
    weight_version: int = 0

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclass
class Group:
    """The rollouts of one sample and their rewards: `rewards[i][k]` is reward function k on rollout i
    (`reward_infos[i][k]` the details it returned, if any)."""

    sample: Sample
    rollouts: list[Rollout]
    rewards: list[list[float]]
    reward_infos: list[list[dict[str, Any] | None]] = field(default_factory=list)

    @property
    def is_constant(self) -> bool:
        return all(r == self.rewards[0] for r in self.rewards)


@dataclass
class TrainBatch:
    """Padded tensors for the learner. Prompts are left-padded, completions right-padded (TRL's layout), so
    every completion starts at column `prompt_ids.shape[1]` and the log-prob tensors are `[B, C]`.

    `loss_mask` is 1 on completion tokens that carry loss (0 on padding and on masked overlong rollouts);
    `sampling_logprobs` are the engine's, used for TIS and the engine/learner mismatch metric.
    """

    prompt_ids: torch.Tensor  # [B, P] long, left-padded
    prompt_mask: torch.Tensor  # [B, P] long
    completion_ids: torch.Tensor  # [B, C] long, right-padded
    completion_mask: torch.Tensor  # [B, C] long: 1 on real completion tokens
    loss_mask: torch.Tensor  # [B, C] float: completion_mask with overlong rollouts zeroed
    advantages: torch.Tensor  # [B] float
    sampling_logprobs: torch.Tensor  # [B, C] float

    @property
    def size(self) -> int:
        return int(self.completion_ids.shape[0])

    def select(self, index: torch.Tensor | slice) -> TrainBatch:
        """Rows `index` of every tensor (micro-batching)."""
        return TrainBatch(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})
