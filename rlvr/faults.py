"""Fault injection, to test and rehearse recovery: `+fault.nan_at_step=N`, `+fault.lr_spike_at_step=N`,
`+fault.kill_at_step=N` (with `+fault.kill_point=save`, die while writing step N's checkpoint).

Each fault fires once per process: after a rollback the same step runs clean, as a transient failure would.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field, fields
from typing import Any

from rlvr.errors import ConfigError


@dataclass
class Faults:
    nan_at_step: int | None = None  #: the loss of this step becomes NaN
    lr_spike_at_step: int | None = None  #: this step's learning rate is multiplied by lr_spike_factor
    lr_spike_factor: float = 1000.0
    kill_at_step: int | None = None  #: SIGKILL this process during this step (or its checkpoint save)
    kill_point: str = "step"  #: step (after generation, before the update) | save (before the rename)
    fired: set[str] = field(default_factory=set)

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> Faults:
        known = {f.name for f in fields(cls)} - {"fired"}
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"unknown fault {sorted(unknown)[0]!r}; known: {', '.join(sorted(known))}")
        faults = cls(**raw)
        if faults.kill_point not in ("step", "save"):
            raise ConfigError(f"fault.kill_point must be step or save, got {faults.kill_point!r}")
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

    def maybe_kill(self, step: int, point: str) -> None:
        if point == self.kill_point and self._once("kill", step, self.kill_at_step):
            os.kill(os.getpid(), signal.SIGKILL)
