"""A training run: set the parts up, repeat the GRPO step, watch it, checkpoint it, roll it back, report.

    train(cfg)          rlvr train
    evaluate_only(cfg)  rlvr eval

The run never loses more than the steps since its last checkpoint (`resume=auto` picks up the newest),
and when the monitor sees a collapse it restores the last good checkpoint, applies the configured
mitigation, logs a `rollback` event and continues; after `monitor.max_rollbacks` it stops (exit code 3).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from rewards.pool import RewardPool, specs_from_config
from rlvr.checkpoint import CheckpointManager, rng_state, set_rng_state
from rlvr.config import TrainConfig
from rlvr.data import PromptSampler, load_samples
from rlvr.errors import ConfigError, TrainingStopped
from rlvr.evaluate import EvalResult
from rlvr.faults import Faults
from rlvr.learner import Learner, load_model, load_tokenizer, resolve_device
from rlvr.loop import Trainer, make_engine, run_eval, seed_everything
from rlvr.monitor import Monitor, Verdict
from rlvr.tracking import Tracker, plot_metrics


class Run:
    """The state of one training run beyond a single step: checkpoints, monitor, rollbacks, summary."""

    def __init__(self, cfg: TrainConfig, trainer: Trainer, tracker: Tracker, faults: Faults) -> None:
        self.cfg = cfg
        self.trainer = trainer
        self.tracker = tracker
        self.monitor = Monitor(cfg.monitor)
        self.checkpoints = CheckpointManager(
            Path(cfg.run_dir), cfg.checkpoint, before_rename=lambda: faults.maybe_kill(self.saving_step, "save")
        )
        self.saving_step = 0
        self.lr_scale = 1.0  # cumulative rollback mitigation; survives restores on purpose
        self.rollbacks = 0
        self.summary: dict[str, Any] = {"run_dir": cfg.run_dir, "steps": 0}

    # ---- checkpoints -----------------------------------------------------------------------------------
    def save(self, step: int) -> None:
        t = self.trainer
        state = {
            "step": step,
            "learner": t.learner.state_dict(),
            "sampler": t.sampler.state_dict(),
            "rng": rng_state(),
            "monitor": self.monitor.state_dict(),
            "lr_scale": self.lr_scale,
            "seed_offset": t.seed_offset,
            "summary": dict(self.summary),
        }
        self.saving_step = step
        self.checkpoints.save(step, t.learner.model, state, self.cfg)

    def restore(self, step: int) -> dict[str, Any]:
        """Load checkpoint `step` into every part; returns its state."""
        t = self.trainer
        state = self.checkpoints.load(step, t.learner.model)
        t.learner.load_state_dict(state["learner"])
        t.sampler.load_state_dict(state["sampler"])
        set_rng_state(state["rng"])
        self.monitor.load_state_dict(state["monitor"])
        t.engine.update_weights(t.learner.named_weights, t.learner.version)
        return state

    def resume(self) -> int:
        """Step to continue after (0: a fresh start). `resume=auto` takes the newest complete checkpoint."""
        self.checkpoints.clean_partial()
        if self.cfg.resume == "none":
            return 0
        if self.cfg.resume == "auto":
            step = self.checkpoints.latest()
            if step is None:
                self.tracker.message("resume=auto: no checkpoint yet, starting from step 0")
                return 0
        else:
            path = Path(self.cfg.resume)
            if not (path / "state.pt").exists():
                raise ConfigError(f"resume: {path} is not a checkpoint directory")
            self.checkpoints.dir = path.parent
            step = int(path.name.split("_")[-1])
        state = self.restore(step)
        self.lr_scale = state["lr_scale"]
        self.trainer.seed_offset = state["seed_offset"]
        self.summary.update(state["summary"])
        self.tracker.truncate_after(step)
        self.tracker.event(step, "resume", from_checkpoint=str(self.checkpoints.path(step)))
        return step

    # ---- rollback ------------------------------------------------------------------------------------
    def rollback(self, step: int, verdict: Verdict) -> int:
        """Back to the last good checkpoint, mitigated; returns the step it restored."""
        self.rollbacks += 1
        if self.rollbacks > self.cfg.monitor.max_rollbacks:
            raise TrainingStopped(
                f"stopped at step {step} after {self.cfg.monitor.max_rollbacks} rollbacks; last: {verdict}"
            )
        target = self.checkpoints.latest_good()
        if target is None:
            raise TrainingStopped(f"collapse at step {step} ({verdict}) and no good checkpoint to roll back to")
        t = self.trainer
        sampler_at_failure = t.sampler.state_dict()
        state = self.restore(target)
        self.checkpoints.discard_after(target)  # the failed trajectory's saves
        mitigation = self.cfg.monitor.mitigation
        if "lr_factor" in mitigation:
            self.lr_scale *= self.cfg.monitor.lr_factor
        t.learner.scale_lr(self.lr_scale / state["lr_scale"])  # the checkpoint has its own scale baked in
        if "skip_batch" in mitigation:
            t.sampler.load_state_dict(sampler_at_failure)  # the prompts since the checkpoint are not retried
        if "reseed" in mitigation:
            t.seed_offset += 1
        self.tracker.event(
            step,
            "rollback",
            reason=str(verdict),
            rule=verdict.rule,
            to_step=target,
            rollbacks=self.rollbacks,
            mitigation=",".join(mitigation),
            lr_scale=self.lr_scale,
        )
        return target

    # ---- the loop ------------------------------------------------------------------------------------
    def evaluate(self, samples, step: int, key: str | None = None) -> EvalResult:
        result = run_eval(self.cfg, self.trainer.engine, self.trainer.pool, samples)
        if key:
            self.summary.update({f"accuracy_{key}": result.accuracy, f"length_{key}": result.mean_length})
        return result

    def loop(self, eval_samples: list) -> None:
        cfg = self.cfg
        step = self.resume()
        self.trainer.reward_watch.load(self.summary.get("reward_errors", {}))
        if step == 0:
            if eval_samples and cfg.eval.before_training:
                self.tracker.log(0, self.evaluate(eval_samples, 0, "before").metrics())
            if cfg.monitor.enabled or cfg.checkpoint.every:
                self.save(0)  # the rollback target of last resort: the model we started from
                self.checkpoints.mark_good(0)
        step += 1
        while step <= cfg.steps:
            metrics = self.trainer.step(step)
            self.summary["reward_errors"] = self.trainer.reward_watch.summary()
            verdict = self.monitor.observe(metrics)
            if verdict is not None:
                self.tracker.log(step, {**metrics, "monitor/fired": verdict.rule})
                step = self.rollback(step, verdict) + 1
                continue
            if eval_samples and cfg.eval.every and step % cfg.eval.every == 0 and step != cfg.steps:
                metrics.update(self.evaluate(eval_samples, step).metrics())
            self.tracker.log(step, {**metrics, "monitor/rollbacks": self.rollbacks})
            self.summary.update(steps=step, train_reward_last=metrics["reward/mean"])
            for saved in self.checkpoints.steps():
                if saved <= step - cfg.monitor.good_after:
                    self.checkpoints.mark_good(saved)
            if cfg.checkpoint.every and step % cfg.checkpoint.every == 0 and step != cfg.steps:
                self.save(step)
            step += 1
        self.summary["steps"] = cfg.steps
        self.summary["rollbacks"] = self.rollbacks


def _start_process(cfg: TrainConfig):
    """Threads and seeds for this process; returns the tokenizer (the first thing every command needs)."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    return load_tokenizer(cfg.model)


def _load_learner(cfg: TrainConfig) -> Learner:
    device = resolve_device(cfg.model.device)
    return Learner(cfg, load_model(cfg.model, device), device)


def _setup(cfg: TrainConfig):
    """Everything a run needs, cheapest and most error-prone first (data and rewards fail in a second)."""
    faults = Faults.from_config(dict(cfg.fault))
    tokenizer = _start_process(cfg)
    train_samples = load_samples(cfg.data, tokenizer)
    eval_samples = load_samples(cfg.eval.data, tokenizer) if cfg.eval.data is not None else []
    specs = specs_from_config(cfg.reward)
    return faults, tokenizer, train_samples, eval_samples, specs, _load_learner(cfg)


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run a whole training job; returns (and writes to run_dir/summary.json) the run summary."""
    wall_start = time.time()
    faults, tokenizer, train_samples, eval_samples, specs, learner = _setup(cfg)
    run_dir = Path(cfg.run_dir)
    engine = make_engine(cfg, learner, tokenizer)
    tracker = Tracker(run_dir, cfg.tracking, cfg.steps)
    sampler = PromptSampler(train_samples, shuffle=cfg.data.shuffle, seed=cfg.seed)
    try:
        with RewardPool(specs, cfg.reward_workers) as pool:
            trainer = Trainer(cfg, learner, engine, pool, sampler, tracker, tokenizer.pad_token_id, faults)
            run = Run(cfg, trainer, tracker, faults)
            run.loop(eval_samples)
            if eval_samples and cfg.eval.after_training:
                after = run.evaluate(eval_samples, cfg.steps, "after")
                tracker.log(cfg.steps, after.metrics())
                (run_dir / "eval_after.json").write_text(json.dumps(after.summary(), indent=2))
            if cfg.checkpoint.save_final:
                run.save(cfg.steps)
                learner.model.save_pretrained(run_dir / "model")
                tokenizer.save_pretrained(run_dir / "model")
    finally:
        tracker.close()
        engine.close()
    summary = {**run.summary, "wall_s": round(time.time() - wall_start, 1)}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    plot_metrics(run_dir / "metrics.jsonl", run_dir / "metrics.png")
    if "accuracy_before" in summary or "accuracy_after" in summary:
        print_summary(tracker, summary)
    return summary


def print_summary(tracker: Tracker, summary: dict[str, Any]) -> None:
    def pct(key: str) -> str:
        return f"{100 * summary[key]:.1f}%" if key in summary else "-"

    def num(key: str) -> str:
        return f"{summary[key]:.1f}" if key in summary else "-"

    tracker.table(
        f"held-out evaluation ({summary['run_dir']})",
        ["", "accuracy", "mean response length (tokens)"],
        [
            ["before training", pct("accuracy_before"), num("length_before")],
            [f"after {summary['steps']} GRPO steps", pct("accuracy_after"), num("length_after")],
        ],
    )
    tracker.message(f"wall time {summary['wall_s']:.0f}s; metrics, plot and summary in {summary['run_dir']}/")


def evaluate_only(cfg: TrainConfig) -> EvalResult:
    """`rlvr eval`: load the model, evaluate it on `eval.data`, write eval.json, print a table."""
    if cfg.eval.data is None:
        raise ConfigError("rlvr eval needs eval.data.path (a local .json/.jsonl/.parquet or a hub dataset name)")
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = _start_process(cfg)
    samples = load_samples(cfg.eval.data, tokenizer)
    learner = _load_learner(cfg)
    engine = make_engine(cfg, learner, tokenizer)
    tracker = Tracker(run_dir, cfg.tracking, 0)
    try:
        with RewardPool(specs_from_config(cfg.reward), cfg.reward_workers) as pool:
            result = run_eval(cfg, engine, pool, samples)
    finally:
        engine.close()
        tracker.close()
    (run_dir / "eval.json").write_text(json.dumps({**result.summary(), "records": result.records}, indent=2))
    rows = [["accuracy (pass@1)", f"{100 * result.accuracy:.1f}%"]]
    rows += [[f"pass@{k}", f"{100 * v:.1f}%"] for k, v in result.pass_at.items() if k > 1]
    rows += [[f"maj@{k}", f"{100 * v:.1f}%"] for k, v in result.maj_at.items() if k > 1]
    rows += [
        ["mean response length", f"{result.mean_length:.1f} tokens"],
        ["no answer", f"{100 * result.no_answer:.1f}%"],
    ]
    rows += [[f"subject {k}", f"{100 * v:.1f}%"] for k, v in result.by_subject.items()]
    rows += [[f"level {k}", f"{100 * v:.1f}%"] for k, v in result.by_level.items()]
    tracker.table(
        f"evaluation of {cfg.model.path} on {cfg.eval.data.path} ({result.n_problems} problems)",
        ["metric", "value"],
        rows,
    )
    return result
