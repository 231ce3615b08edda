"""The points where code outside the step may act on a run: fault injection (`rlvr.faults`) today, a profiler
or a debugger tomorrow. The step, the learner and the checkpoint writer call these and nothing else, so no
fault-specific check lives inside them. Every method here does nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlvr.types import TrainBatch


class RunHooks:
    """No-op hooks; subclass and override what you need."""

    @property
    def scales_logits(self) -> bool:
        """Whether `logit_multiplier` can differ from 1 (only then does the learner hook generation's forwards)."""
        return False

    def before_learn(self, step: int, batch: TrainBatch) -> None:
        """After the step's batch is collated, before the update (may change the batch in place)."""

    def lr_multiplier(self, step: int) -> float:
        """A factor on this step's learning rate (the scheduler's next step restores the scheduled value)."""
        return 1.0

    def grad_multiplier(self, step: int) -> float:
        """A factor on this step's gradients, before clipping."""
        return 1.0

    def logit_multiplier(self, step: int) -> float:
        """A factor on the policy's logits during this step, in generation and in the learner alike."""
        return 1.0

    def before_checkpoint_rename(self, step: int) -> None:
        """When step `step`'s checkpoint is fully written, just before it is renamed into place."""
