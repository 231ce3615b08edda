"""The GRPO step: sample -> rollout -> score -> filter -> advantage -> learn -> sync.

`Trainer.step` is one iteration, each stage a few lines over the types of `rlvr.types` that calls into the
module owning the detail. `rlvr.run` repeats it, with evaluation, checkpoints, the monitor and rollback.
With `rollout.max_staleness=k >= 1` the rollouts of the next steps are already being generated (by actors in
their own processes) while the learner trains: `rlvr.rollout.ahead.RolloutQueue` requests them as soon as the
staleness bound allows and hands them out in order.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rewards.pool import RewardPool, RewardWatch
from rlvr.algo import compute_advantages, informative_groups, overlong_loss_mask, soft_overlong_penalty
from rlvr.batching import collate, collate_empty
from rlvr.config import TrainConfig
from rlvr.data import PromptSampler
from rlvr.hooks import RunHooks
from rlvr.learner import Learner
from rlvr.rollout.ahead import RolloutQueue
from rlvr.rollout.base import RolloutEngine, SamplingParams
from rlvr.tracking import Tracker
from rlvr.types import Group, Rollout


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class StepGroups:
    """What one step's rollout stage produced: the groups that train, and counts for the metrics."""

    groups: list[Group] = field(default_factory=list)
    generated: list[Group] = field(default_factory=list)  # every group scored this step, kept or not
    skipped: int = 0
    rounds: int = 0

    @property
    def trained(self) -> int:
        return len(self.groups)

    reward_errors: dict[str, int] = field(default_factory=dict)
    reward_timeouts: dict[str, int] = field(default_factory=dict)
    staleness: list[int] = field(default_factory=list)  # learner version minus sampling version, per rollout
    generate_s: float = 0.0  # the learner's wall time in generation (waiting, when actors generate)
    score_s: float = 0.0


class Trainer:
    """Holds the run's parts; `step()` is one GRPO iteration."""

    def __init__(
        self,
        cfg: TrainConfig,
        learner: Learner,
        engine: RolloutEngine,
        pool: RewardPool,
        sampler: PromptSampler,
        tracker: Tracker,
        pad_id: int,
        hooks: RunHooks | None = None,
    ):
        self.cfg = cfg
        self.learner = learner
        self.engine = engine
        self.pool = pool
        self.sampler = sampler
        self.tracker = tracker
        self.pad_id = pad_id
        self.hooks = hooks or RunHooks()
        self.seed_offset = 0  # bumped by the "reseed" rollback mitigation
        self.reward_names = pool.names + (["overlong_penalty"] if cfg.algo.overlong == "soft_penalty" else [])
        self.reward_weights = pool.weights + ([1.0] if cfg.algo.overlong == "soft_penalty" else [])
        # first failures (console, summary.json) and the stop when a reward function only times out
        self.reward_watch = RewardWatch(pool.specs, cfg.reward_max_timeout_steps)
        self.queue = RolloutQueue(
            engine,
            sampler,
            lambda step: self.sampling_params(step, 0),
            prompts_per_step=cfg.prompts_per_step,
            max_staleness=cfg.rollout.max_staleness,
            last_step=cfg.steps,
        )
        self.remote = cfg.rollout.mode == "actor"  # generation happens in other processes
        self._last_step_end: float | None = None
        self._busy_s = getattr(engine, "busy_s", 0.0)

    def sampling_params(self, step: int, round_: int) -> SamplingParams:
        r = self.cfg.rollout
        return SamplingParams(
            n=r.group_size,
            temperature=r.temperature,
            top_p=r.top_p,
            top_k=r.top_k,
            max_tokens=r.max_tokens,
            stop=tuple(r.stop),
            seed=self.cfg.seed * 1_000_003 + step * 101 + round_ + self.seed_offset * 7_919,
        )

    # 1-3. sample prompts, generate rollouts, score them -------------------------------------------------
    def rollouts(self, step: int, round_: int, out: StepGroups) -> tuple[list[list[Rollout]], SamplingParams]:
        """Round 0 is the step's batch from the queue (generated ahead when staleness allows); resampling
        rounds (DAPO dynamic sampling) are generated now, for the prompts still missing."""
        start = time.perf_counter()
        if round_ == 0:
            _, params, groups = self.queue.take(step, self.learner.version)
        else:
            params = self.sampling_params(step, round_)
            groups = self.engine.generate(self.sampler.take(self.cfg.prompts_per_step - out.trained), params)
        out.generate_s += time.perf_counter() - start
        out.staleness += [self.learner.version - r.weight_version for g in groups for r in g]
        return groups, params

    def score(self, rollout_groups: list[list[Rollout]], params: SamplingParams, out: StepGroups) -> list[Group]:
        start = time.perf_counter()
        flat = [r for g in rollout_groups for r in g]
        budget_s = self.cfg.reward_step_timeout_s  # per step: resampling rounds share it
        deadline_s = max(0.0, budget_s - out.score_s) if budget_s > 0 else None
        scored = self.pool.score(
            [r.completion for r in flat], [r.sample.for_reward() for r in flat], deadline_s=deadline_s
        )
        out.score_s += time.perf_counter() - start
        for name in self.pool.names:
            out.reward_errors[name] = out.reward_errors.get(name, 0) + scored.errors[name]
            out.reward_timeouts[name] = out.reward_timeouts.get(name, 0) + scored.timeouts[name]
        step = self.learner.version + 1  # the step being collected: the learner steps once per step
        for name in self.reward_watch.record(step, scored):
            self.tracker.message(
                f"reward.{name}: {self.reward_watch.specs[name].fn} failed at step {step} and scored 0: "
                f"{self.reward_watch.failures[name].first} (shown once; reward/{name}/errors and /timeouts "
                "count them all)"
            )
        self.reward_watch.raise_if_hung()
        rewards = scored.rewards
        if self.cfg.algo.overlong == "soft_penalty":
            lengths = torch.tensor([len(r.completion_ids) for r in flat])
            penalty = soft_overlong_penalty(lengths, params.max_tokens, self.cfg.algo.overlong_buffer)
            rewards = [[*row, float(p)] for row, p in zip(rewards, penalty, strict=True)]
        n = params.n
        return [
            Group(
                sample=g[0].sample,
                rollouts=g,
                rewards=rewards[i * n : (i + 1) * n],
                reward_infos=scored.infos[i * n : (i + 1) * n],
            )
            for i, g in enumerate(rollout_groups)
        ]

    # 4. filter: zero-variance groups kept, skipped, or replaced by fresh prompts (DAPO dynamic sampling) ----
    def collect_groups(self, step: int) -> StepGroups:
        out = StepGroups()
        mode = self.cfg.algo.zero_variance
        rounds = 1 + (self.cfg.algo.max_resample_rounds if mode == "resample" else 0)
        for round_ in range(rounds):
            new = self.score(*self.rollouts(step, round_, out), out)
            out.generated += new
            out.rounds = round_ + 1
            if mode == "keep":
                out.groups = new
                break
            rewards = torch.tensor([row for g in new for row in g.rewards])
            keep = informative_groups(rewards, self.cfg.rollout.group_size).tolist()
            out.groups += [g for g, k in zip(new, keep, strict=True) if k]
            out.skipped += keep.count(False)
            if len(out.groups) >= self.cfg.prompts_per_step:
                break
        return out

    # 5. advantages over the groups that train ------------------------------------------------------------
    def advantages(self, groups: list[Group]) -> torch.Tensor:
        if not groups:
            return torch.zeros(0)
        algo = self.cfg.algo
        return compute_advantages(
            torch.tensor([row for g in groups for row in g.rewards], dtype=torch.float32),
            self.cfg.rollout.group_size,
            adv_scale=algo.adv_scale,
            multi_reward=algo.multi_reward,
            weights=self.reward_weights,
            eps=algo.eps,
        )

    def step(self, step: int) -> dict[str, Any]:
        start = time.perf_counter()
        if self._last_step_end is None:
            self._last_step_end = start
        collected = self.collect_groups(step)
        rollouts: list[Rollout] = [r for g in collected.groups for r in g.rollouts]
        advantages = self.advantages(collected.groups)
        # 6. learn
        learn_start = time.perf_counter()
        if rollouts:
            truncated = torch.tensor([r.truncated for r in rollouts])
            batch = collate(rollouts, advantages, overlong_loss_mask(truncated, self.cfg.algo.overlong), self.pad_id)
        else:
            batch = collate_empty()
        self.hooks.before_learn(step, batch)
        learn = self.learner.step(batch, lr_multiplier=self.hooks.lr_multiplier(step))
        learn_s = time.perf_counter() - learn_start
        # 7. sync the engine to the new weights, and request what the staleness bound now allows
        sync = {}
        if self.learner.version % self.cfg.rollout.sync_every == 0:
            sync = self.engine.update_weights(self.learner.named_weights, self.learner.version)
        if self.remote:  # actors start on the next batches now; an engine in this process generates when asked
            self.queue.fill(step + 1, self.learner.version)
        end = time.perf_counter()
        metrics = {
            **self.rollout_metrics(collected, advantages),
            **learn,
            **sync,
            **self.engine_metrics(step, end),
            "time/generate_s": collected.generate_s,
            "time/score_s": collected.score_s,
            "time/learn_s": learn_s,
            "time/learner_idle_s": collected.generate_s if self.remote else 0.0,
            # wall clock between the ends of consecutive optimizer steps, whatever overlapped inside
            "time/step_s": end - self._last_step_end,
        }
        self._last_step_end = end
        self.log_samples(step, collected.generated)
        return metrics

    def engine_metrics(self, step: int, now: float) -> dict[str, float]:
        """Restarts (each also an event and a console line) and, for actors, how long they sat idle."""
        for event in self.engine.events():
            detail = {k: v for k, v in event.items() if k != "event"}
            self.tracker.event(step, event["event"], **detail)
        metrics = {"rollout/restarts": float(self.engine.restarts)}
        if self.remote:
            busy = self.engine.busy_s
            wall = now - (self._last_step_end or now)
            metrics["time/actor_idle_s"] = max(0.0, self.cfg.rollout.actors * wall - (busy - self._busy_s))
            self._busy_s = busy
        return metrics

    def drain(self) -> None:
        """Abandon rollouts generated ahead (before a checkpoint or a rollback; see rlvr.rollout.ahead)."""
        self.queue.drop()

    def rollout_metrics(self, collected: StepGroups, advantages: torch.Tensor) -> dict[str, float]:
        generated = collected.generated
        all_rollouts = [r for g in generated for r in g.rollouts]
        rewards = torch.tensor([row for g in generated for row in g.rewards], dtype=torch.float32)
        weights = torch.tensor(self.reward_weights)
        lengths = torch.tensor([len(r.completion_ids) for r in all_rollouts], dtype=torch.float32)
        metrics: dict[str, float] = {
            "reward/mean": float((rewards @ weights).mean()),
            "rollout/length_mean": float(lengths.mean()),
            "rollout/length_max": float(lengths.max()),
            "rollout/tokens": float(lengths.sum()),
            "rollout/truncated_frac": sum(r.truncated for r in all_rollouts) / len(all_rollouts),
            "groups/trained": float(len(collected.groups)),
            "groups/skipped": float(collected.skipped),
            "groups/constant_frac": sum(g.is_constant for g in generated) / len(generated),
            "groups/rounds": float(collected.rounds),
            "rollout/staleness_mean": sum(collected.staleness) / max(1, len(collected.staleness)),
            "rollout/staleness_max": float(max(collected.staleness, default=0)),
            "adv/abs_mean": float(advantages.abs().mean()) if advantages.numel() else 0.0,
            "adv/abs_max": float(advantages.abs().max()) if advantages.numel() else 0.0,
            "adv/std": float(advantages.std()) if advantages.numel() > 1 else 0.0,
        }
        for k, name in enumerate(self.reward_names):
            metrics[f"reward/{name}/mean"] = float(rewards[:, k].mean())
        for name in self.pool.names:
            metrics[f"reward/{name}/errors"] = float(collected.reward_errors.get(name, 0))
            metrics[f"reward/{name}/timeouts"] = float(collected.reward_timeouts.get(name, 0))
        return metrics

    def log_samples(self, step: int, groups: list[Group]) -> None:
        """Every completion of the step's first `tracking.log_samples` groups (all when None), with each
        reward, the weighted total and the verifier's details: what `rlvr inspect` shows."""
        rows = []
        limit = self.cfg.tracking.log_samples
        for g in groups if limit is None else groups[:limit]:
            for i, r in enumerate(g.rollouts):
                infos = g.reward_infos[i] if g.reward_infos else []
                rows.append(
                    {
                        "sample_id": g.sample.id,
                        "rollout": i,
                        "answer": g.sample.answer,
                        "completion": r.completion,
                        "reward": sum(w * v for w, v in zip(self.reward_weights, g.rewards[i], strict=True)),
                        "rewards": dict(zip(self.reward_names, g.rewards[i], strict=True)),
                        "reward_infos": {
                            name: info for name, info in zip(self.pool.names, infos, strict=False) if info
                        },
                        "finish_reason": r.finish_reason,
                        "tokens": len(r.completion_ids),
                        "weight_version": r.weight_version,
                    }
                )
        self.tracker.samples(step, rows)
