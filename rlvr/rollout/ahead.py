"""Generation ahead of the learner, never more than `rollout.max_staleness` optimizer steps ahead.

The batch that step `s` trains on may be sampled by weights of version `s - 1 - k` or newer (version `v` =
the weights after `v` optimizer steps), so after the learner's update to version `v` the batches of every step
up to `v + 1 + k` can be requested. With k = 0 that is the synchronous on-policy loop (request step s, wait,
train); with k = 1 the actors generate step s+1's batch while the learner trains on step s. Every rollout
carries the version that sampled it, and `take` checks the bound on each one instead of assuming it.

`drop` abandons what is in flight and rewinds the prompt stream to the first prompt not yet trained on. The
run calls it before every checkpoint and rollback: a checkpoint then describes a state with nothing in flight,
so resuming from it (or rolling back to it) regenerates the same batches the uninterrupted run regenerated
at the same point, and stays exact.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlvr.data import PromptSampler
from rlvr.rollout.base import Pending, RolloutEngine, SamplingParams
from rlvr.types import Rollout, Sample


@dataclass
class InFlight:
    step: int
    samples: list[Sample]
    params: SamplingParams
    pending: Pending
    cursor: dict[str, int]  # the prompt stream before this batch's prompts were taken


class RolloutQueue:
    """Requests batches for the coming steps and hands them out in order; see the module docstring."""

    def __init__(
        self,
        engine: RolloutEngine,
        sampler: PromptSampler,
        params_for: Callable[[int], SamplingParams],
        *,
        prompts_per_step: int,
        max_staleness: int,
        last_step: int,
    ) -> None:
        self.engine = engine
        self.sampler = sampler
        self.params_for = params_for  # the step's sampling parameters (its seed)
        self.prompts_per_step = prompts_per_step
        self.max_staleness = max_staleness
        self.last_step = last_step
        self.in_flight: deque[InFlight] = deque()

    def fill(self, next_step: int, version: int) -> None:
        """Request every batch the bound allows: steps from `next_step` up to `version + 1 + k`."""
        step = self.in_flight[-1].step + 1 if self.in_flight else next_step
        while step <= min(version + 1 + self.max_staleness, self.last_step):
            cursor = self.sampler.state_dict()
            samples = self.sampler.take(self.prompts_per_step)
            params = self.params_for(step)
            self.in_flight.append(InFlight(step, samples, params, self.engine.submit(samples, params), cursor))
            step += 1

    def take(self, step: int, version: int) -> tuple[list[Sample], SamplingParams, list[list[Rollout]]]:
        """The batch of `step` (waiting for it if needed) for a learner at `version`; checks its staleness."""
        self.fill(step, version)
        batch = self.in_flight.popleft()
        if batch.step != step:
            raise RuntimeError(f"rollout queue out of order: step {step} got the batch of step {batch.step}")
        groups = batch.pending.result()
        oldest = min(r.weight_version for g in groups for r in g)
        if version - oldest > self.max_staleness:
            raise RuntimeError(
                f"step {step}: a rollout of weights version {oldest} is {version - oldest} versions behind the "
                f"learner's {version}, beyond rollout.max_staleness={self.max_staleness}"
            )
        return batch.samples, batch.params, groups

    def drop(self) -> None:
        """Abandon the in-flight batches and give their prompts back to the stream (see the module docstring)."""
        if self.in_flight:
            self.sampler.load_state_dict(self.in_flight[0].cursor)
        for batch in self.in_flight:
            abandon = getattr(batch.pending, "abandon", None)
            if abandon is not None:
                abandon()
        self.in_flight.clear()

    def state(self) -> dict[str, Any]:
        return {"in_flight": [b.step for b in self.in_flight]}
