"""A training run: set the parts up, repeat the GRPO step, watch it, checkpoint it, roll it back, report.

    train(cfg)          rlvr train
    evaluate_only(cfg)  rlvr eval

The run never loses more than the steps since its last checkpoint (`resume=auto` picks up the newest),
and when the monitor sees a collapse it restores the last good checkpoint, applies the configured
mitigation, logs a `rollback` event and continues; after `monitor.max_rollbacks` it stops (exit code 3).
A run owns its `run_dir` and writes nowhere else: a fresh run refuses a directory that holds another run
(`rlvr.rundir.claim`), no two processes work in one run directory at once (`rlvr.rundir.hold`), and
`resume=<checkpoint path>` reads that checkpoint and writes only the new run.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from rewards.pool import RewardPool, check_signature, specs_from_config
from rlvr.checkpoint import (
    CheckpointManager,
    is_checkpoint_dir,
    read_state,
    rng_state,
    set_rng_state,
)
from rlvr.config import DataConfig, TrainConfig
from rlvr.data import PromptSampler, Sample, load_samples
from rlvr.distributed import cluster as clusters
from rlvr.distributed.group import LearnerGroup, check_learner_resources
from rlvr.errors import ConfigError, StorageError, TrainingStopped
from rlvr.evaluate import EvalResult, Grading, eval_spec, grading_of, run_eval
from rlvr.faults import Faults
from rlvr.hooks import RunHooks
from rlvr.learner import Learner
from rlvr.loop import Trainer, seed_everything
from rlvr.model import load_model, load_tokenizer, resolve_device
from rlvr.monitor import Monitor, Verdict
from rlvr.plots import plot_run
from rlvr.rollout import factory
from rlvr.rollout.base import encode_prompts
from rlvr.rollout.factory import make_engine
from rlvr.rundir import RunState, atomic_write_text, claim, hold
from rlvr.tracking import Tracker


class Run:
    """The state of one training run beyond a single step: checkpoints, monitor, rollbacks, summary."""

    def __init__(self, cfg: TrainConfig, trainer: Trainer, tracker: Tracker, hooks: RunHooks, state: RunState) -> None:
        self.cfg = cfg
        self.trainer = trainer
        self.tracker = tracker
        self.state = state  # rollbacks, mitigation and wall clock, persisted after every step
        self.monitor = Monitor(cfg.monitor)
        self.checkpoints = CheckpointManager(
            Path(cfg.run_dir), cfg.checkpoint, before_rename=lambda: hooks.before_checkpoint_rename(self.saving_step)
        )
        self.saving_step = 0
        self.lr_scale = 1.0  # cumulative rollback mitigation; survives restores on purpose
        self.rollbacks = 0
        self.summary: dict[str, Any] = {"run_dir": cfg.run_dir, "steps": 0}

    def persist(self) -> None:
        """Write run_state.json: what must survive this process even when no checkpoint follows."""
        self.state.rollbacks = self.rollbacks
        self.state.lr_scale = self.lr_scale
        self.state.seed_offset = self.trainer.seed_offset
        self.state.global_step = self.tracker.global_step
        self.state.save(Path(self.cfg.run_dir))

    # ---- checkpoints -----------------------------------------------------------------------------------
    def save(self, step: int) -> None:
        t = self.trainer
        t.drain()  # nothing in flight: the checkpoint resumes to what this run does next (rlvr.rollout.ahead)
        state = {
            "step": step,
            "learner": t.learner.state_dict(),
            "sampler": t.sampler.state_dict(),
            "rng": rng_state(),
            "monitor": self.monitor.state_dict(),
            "lr_scale": self.lr_scale,
            "seed_offset": t.seed_offset,
            "rollbacks": self.rollbacks,
            "global_step": self.tracker.global_step,
            "summary": dict(self.summary),
        }
        self.saving_step = step
        self.checkpoints.save(step, t.learner.save, state, self.cfg, trajectory=self.rollbacks)

    def restore(self, path: Path) -> dict[str, Any]:
        """Load the checkpoint at `path` into every part (read-only); returns its state."""
        t = self.trainer
        t.drain()
        t.learner.load(path)
        state = read_state(path)
        t.learner.load_state_dict(state["learner"])
        t.sampler.load_state_dict(state["sampler"])
        set_rng_state(state["rng"])
        self.monitor.load_state_dict(state["monitor"])
        t.engine.update_weights(t.learner.named_weights, t.learner.version)
        return state

    def resume(self) -> int:
        """Step to continue after (0: a fresh start). `resume=auto` takes the newest complete checkpoint of
        this run; `resume=<path>` a checkpoint of any run, which is only read."""
        self.checkpoints.clean_partial()
        if self.cfg.resume == "none":
            return 0
        if self.cfg.resume == "auto":
            latest = self.checkpoints.latest()
            if latest is None:
                self.tracker.message("resume=auto: no checkpoint yet, starting from step 0")
                self.tracker.truncate_after(0)  # what a run that died before its first checkpoint logged
                return 0
            path = self.checkpoints.path(latest)
        else:
            path = Path(self.cfg.resume)
            self.summary["resumed_from"] = str(path.resolve())
        state = self.restore(path)
        step = int(state["step"])
        self.lr_scale = state["lr_scale"]
        self.trainer.seed_offset = state["seed_offset"]
        self.rollbacks = int(state.get("rollbacks", 0))
        self.summary.update({**state["summary"], "run_dir": self.cfg.run_dir})
        if self.state.rollbacks > self.rollbacks:
            # rollbacks happened after this checkpoint was written: their count and mitigation still hold
            self.trainer.learner.scale_lr(self.state.lr_scale / self.lr_scale)
            self.rollbacks, self.lr_scale = self.state.rollbacks, self.state.lr_scale
            self.trainer.seed_offset = self.state.seed_offset
        self.tracker.truncate_after(int(state.get("global_step", step)))
        self.tracker.event(step, "resume", from_checkpoint=str(path), rollbacks=self.rollbacks)
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
        state = self.restore(self.checkpoints.path(target))
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
        self.persist()  # the count must survive a crash before the next checkpoint
        return target

    # ---- the loop ------------------------------------------------------------------------------------
    def evaluate(self, samples, step: int, key: str | None = None) -> EvalResult:
        result = run_eval(self.cfg, self.trainer.engine, self.trainer.pool, samples)
        if key:
            self.summary.update({f"accuracy_{key}": result.accuracy, f"length_{key}": result.mean_length})
            if result.lenient_accuracy is not None:
                self.summary[f"lenient_accuracy_{key}"] = result.lenient_accuracy
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
        self.persist()
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
            self.persist()
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
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" / "Writing model shards": the run has its own
    return load_tokenizer(cfg.model)


def _load_learner(cfg: TrainConfig, hooks: RunHooks | None = None, cluster=None) -> Learner | LearnerGroup:
    """The run's learner: in this process, or `learner.world_size` sharded ranks (`rlvr.distributed`; their
    hooks are built from `cfg.fault` in each rank), placed by Ray under cluster=ray."""
    if cfg.learner.world_size > 1:
        return LearnerGroup(cfg, cluster)
    device = resolve_device(cfg.model.device)
    return Learner(cfg, load_model(cfg.model, device), device, hooks)


def _prompt_lengths(tokenizer, samples: list[Sample]) -> list[int]:
    return [len(ids) for ids in encode_prompts(tokenizer, [s.prompt for s in samples])]


def _drop_long_prompts(data: DataConfig, tokenizer, samples: list[Sample], what: str) -> list[Sample]:
    """`data.max_prompt_tokens`: rows whose rendered prompt is longer are left out, as verl's
    `filter_overlong_prompts` does, and how many is said once; a limit that leaves nothing is an error."""
    if data.max_prompt_tokens is None or not samples:
        return samples
    lengths = _prompt_lengths(tokenizer, samples)
    kept = [s for s, n in zip(samples, lengths, strict=True) if n <= data.max_prompt_tokens]
    if not kept:
        raise ConfigError(
            f"{what}.max_prompt_tokens={data.max_prompt_tokens} drops every prompt of {data.path!r} "
            f"(the shortest has {min(lengths)} tokens)"
        )
    if len(kept) < len(samples):
        print(
            f"{what}: left out {len(samples) - len(kept)} of {len(samples)} prompts longer than "
            f"{data.max_prompt_tokens} tokens",
            file=sys.stderr,
        )
    return kept


def _check_prompt_lengths(cfg: TrainConfig, tokenizer, train_samples: list, eval_samples: list) -> None:
    """With vLLM, a prompt plus its generation budget must fit the engine's context (`rollout.max_model_len`):
    checked now, once, instead of completions cut short or an engine that fails mid-run."""
    if cfg.rollout.backend != "vllm":
        return
    from rlvr.rollout.vllm import max_model_len

    limit = max_model_len(cfg)
    for samples, budget, what in (
        (train_samples, cfg.rollout.max_tokens, "rollout"),
        (eval_samples, cfg.eval.max_tokens, "eval"),
    ):
        if not samples:
            continue
        lengths = _prompt_lengths(tokenizer, samples)
        longest = max(range(len(lengths)), key=lengths.__getitem__)
        if lengths[longest] + budget > limit:
            data = "data" if what == "rollout" else "eval.data"
            raise ConfigError(
                f"prompt {samples[longest].id!r} has {lengths[longest]} tokens; with {what}.max_tokens={budget} it "
                f"needs {lengths[longest] + budget} > rollout.max_model_len={limit}: raise rollout.max_model_len, "
                f"lower {what}.max_tokens, or leave long prompts out with {data}.max_prompt_tokens="
                f"{max(limit - budget, 1)}"
            )


def _resume_source(cfg: TrainConfig) -> None:
    """`resume=<path>` must be a checkpoint of another run: this run writes only its own run_dir."""
    if cfg.resume in ("none", "auto"):
        return
    path = Path(cfg.resume).expanduser()
    if not is_checkpoint_dir(path):
        raise ConfigError(f"resume: {path} is not a checkpoint directory (run_dir/checkpoints/step_N)")
    if path.resolve().is_relative_to(Path(cfg.run_dir).resolve()):
        raise ConfigError(
            f"resume={path} is inside run_dir {cfg.run_dir}: continue this run with resume=auto, or branch "
            "from that checkpoint into a new run_dir"
        )


def _setup(cfg: TrainConfig):
    """Everything a run needs that can be checked cheaply, most error-prone first (config, rewards, data fail
    in a second); nothing is written anywhere yet."""
    specs = specs_from_config(cfg.reward)
    faults = Faults.from_config(dict(cfg.fault))
    factory.check(cfg)
    check_learner_resources(cfg)
    _resume_source(cfg)
    tokenizer = _start_process(cfg)
    train_samples = _drop_long_prompts(cfg.data, tokenizer, load_samples(cfg.data, tokenizer), "data")
    eval_samples = []
    if cfg.eval.enabled:
        check_signature(eval_spec(cfg))  # eval.reward resolves, before any model is loaded
        eval_samples = _drop_long_prompts(cfg.eval.data, tokenizer, load_samples(cfg.eval.data, tokenizer), "eval.data")
    _check_prompt_lengths(cfg, tokenizer, train_samples, eval_samples)
    return faults, tokenizer, train_samples, eval_samples, specs


def _write_config(cfg: TrainConfig, run_dir: Path) -> None:
    """The composed config of the run, as `rlvr train --cfg job` would print it."""
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(OmegaConf.structured(cfg)))


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run a whole training job; returns (and writes to run_dir/summary.json) the run summary."""
    started = time.time()
    faults, tokenizer, train_samples, eval_samples, specs = _setup(cfg)
    run_dir = Path(cfg.run_dir)
    cluster = clusters.connect(cfg)  # cluster=ray: the run's processes reserved on Ray, or a one-line error
    try:
        with hold(run_dir):  # no other process writes this run while this one does
            claim(run_dir, resume=cfg.resume, overwrite=cfg.overwrite)
            return _train(cfg, faults, tokenizer, train_samples, eval_samples, specs, started, cluster)
    finally:
        if cluster is not None:
            cluster.close()


def _train(cfg: TrainConfig, faults: Faults, tokenizer, train_samples, eval_samples, specs, started: float, cluster):
    run_dir = Path(cfg.run_dir)
    with contextlib.ExitStack() as stack:  # closed in reverse: run state, tracker, engine, reward pool
        # its preflight runs before any model; under cluster=ray its workers are Ray actors over the cluster
        pool = stack.enter_context(RewardPool(specs, cfg.reward_workers, on_ray=cluster is not None))
        learner = _load_learner(cfg, faults, cluster)  # the run's one set of hooks: each fault fires once per process
        if isinstance(learner, LearnerGroup):
            stack.callback(learner.close)
        engine = make_engine(cfg, learner, tokenizer, cluster)
        stack.callback(engine.close)
        state = RunState.load(run_dir) if cfg.resume == "auto" else RunState()
        state.start_segment(started)
        config = OmegaConf.to_container(OmegaConf.structured(cfg))
        tracker = Tracker(
            run_dir, cfg.tracking, cfg.steps, config=config, global_step=state.global_step, wandb_id=state.wandb_id
        )
        stack.callback(tracker.close)
        state.wandb_id = tracker.wandb_id or state.wandb_id
        sampler = PromptSampler(train_samples, shuffle=cfg.data.shuffle, seed=cfg.seed)
        trainer = Trainer(cfg, learner, engine, pool, sampler, tracker, tokenizer.pad_token_id, faults)
        run = Run(cfg, trainer, tracker, faults, state)
        stack.callback(_persist_quietly, run)  # however the run ends: its rollback count and wall clock
        _write_config(cfg, run_dir)
        run.loop(eval_samples)
        if eval_samples and cfg.eval.after_training:
            after = run.evaluate(eval_samples, cfg.steps, "after")
            tracker.log(cfg.steps, after.metrics())
            atomic_write_text(run_dir / "eval_after.json", json.dumps(after.summary(), indent=2))
        if cfg.checkpoint.save_final:
            run.save(cfg.steps)
            learner.save_pretrained(run_dir / "model", tokenizer)
    summary = {**run.summary, "wall_s": round(state.wall_s, 1), "segments": len(state.segments)}
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
    if cfg.tracking.plots:
        try:
            plot_run(run_dir)
        except Exception as exc:  # the run is done and saved: a failed plot must not fail it
            tracker.message(f"warning: the plots were not drawn ({exc}); `rlvr plot {run_dir}` redraws them")
    print_summary(tracker, summary, plots=cfg.tracking.plots, grading=grading_of(cfg.eval.reward))
    return summary


def _persist_quietly(run: Run) -> None:
    with contextlib.suppress(StorageError):
        run.persist()


def print_summary(tracker: Tracker, summary: dict[str, Any], *, plots: bool, grading: Grading) -> None:
    """The end of a run on the console: the held-out table (when there was an evaluation), then where
    everything is."""

    def pct(key: str) -> str:
        return f"{100 * summary[key]:.1f}%" if key in summary else "-"

    def num(key: str) -> str:
        return f"{summary[key]:.1f}" if key in summary else "-"

    run_dir = summary["run_dir"]
    if "accuracy_before" in summary or "accuracy_after" in summary:
        tracker.table(
            f"held-out evaluation ({run_dir})",
            ["", grading.strict_label, grading.lenient_label, "mean length"],
            [
                ["before training", pct("accuracy_before"), pct("lenient_accuracy_before"), num("length_before")],
                [
                    f"after {summary['steps']} steps",
                    pct("accuracy_after"),
                    pct("lenient_accuracy_after"),
                    num("length_after"),
                ],
            ],
        )
    lines = [f"done: {summary['steps']} steps in {summary['wall_s']:.0f} s; the run is in {run_dir}/"]
    if plots:
        lines.append(f"plots: {run_dir}/plots/*.png and {run_dir}/metrics.png")
    lines.append(f"completions: rlvr inspect {run_dir} --step {summary['steps']} --worst")
    if tracker.wandb_hint:
        lines.append(tracker.wandb_hint)
    for line in lines:
        tracker.message(line)


def evaluate_only(cfg: TrainConfig) -> EvalResult:
    """`rlvr eval`: load the model, evaluate it on `eval.data`, write eval.json, print a table."""
    if cfg.eval.data is None:
        raise ConfigError("rlvr eval needs eval.data.path (a local .json/.jsonl/.parquet or a hub dataset name)")
    run_dir = Path(cfg.run_dir)
    if (run_dir / "metrics.jsonl").exists() or (run_dir / "checkpoints").exists():
        raise ConfigError(
            f"run_dir {run_dir} holds a training run; rlvr eval writes its own config.yaml and eval.json, so "
            "give it another run_dir (e.g. run_dir=runs/eval_x)"
        )
    specs = specs_from_config(cfg.reward)
    check_signature(eval_spec(cfg))
    tokenizer = _start_process(cfg)
    samples = _drop_long_prompts(cfg.eval.data, tokenizer, load_samples(cfg.eval.data, tokenizer), "eval.data")
    _check_prompt_lengths(cfg, tokenizer, [], samples)
    with contextlib.ExitStack() as stack:
        stack.enter_context(hold(run_dir))  # released last, after eval.json is written
        cluster = clusters.connect(cfg)
        if cluster is not None:
            stack.callback(cluster.close)
        pool = stack.enter_context(RewardPool(specs, cfg.reward_workers, on_ray=cluster is not None))
        learner = _load_learner(cfg, cluster=cluster)
        if isinstance(learner, LearnerGroup):
            stack.callback(learner.close)
        engine = make_engine(cfg, learner, tokenizer, cluster)
        stack.callback(engine.close)
        tracker = Tracker(run_dir, cfg.tracking, 0)
        stack.callback(tracker.close)
        _write_config(cfg, run_dir)
        result = run_eval(cfg, engine, pool, samples)
        atomic_write_text(run_dir / "eval.json", json.dumps({**result.summary(), "records": result.records}, indent=2))
    grading = grading_of(cfg.eval.reward)
    rows = [["accuracy (pass@1)", f"{100 * result.accuracy:.1f}%"]]
    if result.lenient_accuracy is not None:
        rows += [[grading.lenient_label, f"{100 * result.lenient_accuracy:.1f}%"]]
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
