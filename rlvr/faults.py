"""Fault injection, to test and rehearse recovery: `+fault.nan_at_step=N`, `+fault.lr_spike_at_step=N`,
`+fault.grad_scale_at_step=N`, `+fault.logit_scale_at_step=N` (with `+fault.logit_scale_steps=K`),
`+fault.kill_at_step=N` (with `+fault.kill_point=save`, die while writing step N's checkpoint).

Each fault fires once per process: after a rollback the same step runs clean, as a transient failure would.
Faults enter the run through its hooks (`rlvr.hooks.RunHooks`), which `Faults` implements.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from rlvr.errors import ConfigError
from rlvr.hooks import RunHooks

if TYPE_CHECKING:
    from rlvr.types import TrainBatch


@dataclass
class Faults(RunHooks):
    nan_at_step: int | None = None  #: the loss of this step becomes NaN
    lr_spike_at_step: int | None = None  #: this step's learning rate is multiplied by lr_spike_factor
    lr_spike_factor: float = 1000.0
    grad_scale_at_step: int | None = None  #: this step's gradients are multiplied by grad_scale_factor
    grad_scale_factor: float = 1000.0
    #: the policy's logits are multiplied by logit_scale_factor for logit_scale_steps steps from this one, in
    #: generation and in the learner alike (a wrong temperature): > 1 sharpens the policy, < 1 flattens it
    logit_scale_at_step: int | None = None
    logit_scale_factor: float = 0.05
    logit_scale_steps: int = 1
    kill_at_step: int | None = None  #: SIGKILL this process during this step (or its checkpoint save)
    kill_point: str = "step"  #: step (after generation, before the update) | save (before the rename)
    fired: set[str] = field(default_factory=set)
    logit_scaled_steps: set[int] = field(default_factory=set)

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> Faults:
        known = {f.name for f in fields(cls)} - {"fired", "logit_scaled_steps"}
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"unknown fault {sorted(unknown)[0]!r}; known: {', '.join(sorted(known))}")
        faults = cls(**raw)
        if faults.kill_point not in ("step", "save"):
            raise ConfigError(f"fault.kill_point must be step or save, got {faults.kill_point!r}")
        if faults.logit_scale_steps < 1 or faults.logit_scale_factor <= 0:
            raise ConfigError("fault.logit_scale_steps must be >= 1 and fault.logit_scale_factor > 0")
        return faults

    def _once(self, name: str, step: int, at: int | None) -> bool:
        if at is None or step != at or name in self.fired:
            return False
        self.fired.add(name)
        return True

    def nan(self, step: int) -> bool:
        return self._once("nan", step, self.nan_at_step)

    def lr_spike(self, step: int) -> float:
        return self.lr_spike_factor if self._once("lr_spike", step, self.lr_spike_at_step) else 1.0

    def grad_scale(self, step: int) -> float:
        return self.grad_scale_factor if self._once("grad_scale", step, self.grad_scale_at_step) else 1.0

    def logit_scale(self, step: int) -> float:
        """The factor on the policy's logits during `step`: logit_scale_factor on the first pass through the
        window of logit_scale_steps steps; once the run leaves the window, or goes back (a rollback), 1."""
        at = self.logit_scale_at_step
        if at is None or "logit_scale" in self.fired:
            return 1.0
        latest = max(self.logit_scaled_steps, default=at)
        if step < latest or step >= at + self.logit_scale_steps:
            if self.logit_scaled_steps:
                self.fired.add("logit_scale")
            return 1.0
        self.logit_scaled_steps.add(step)
        return self.logit_scale_factor

    def maybe_kill(self, step: int, point: str) -> None:
        if point == self.kill_point and self._once("kill", step, self.kill_at_step):
            os.kill(os.getpid(), signal.SIGKILL)

    # ---- the run's hooks ----------------------------------------------------------------------------------
    @property
    def scales_logits(self) -> bool:
        return self.logit_scale_at_step is not None

    def before_learn(self, step: int, batch: TrainBatch) -> None:
        self.maybe_kill(step, "step")
        if self.nan(step):
            batch.advantages.fill_(float("nan"))

    def lr_multiplier(self, step: int) -> float:
        return self.lr_spike(step)

    def grad_multiplier(self, step: int) -> float:
        return self.grad_scale(step)

    def logit_multiplier(self, step: int) -> float:
        return self.logit_scale(step)

    def before_checkpoint_rename(self, step: int) -> None:
        self.maybe_kill(step, "save")
