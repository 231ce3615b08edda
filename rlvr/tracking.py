"""Where numbers go: metrics.jsonl per run, sample completions, a progress line with ETA, wandb
(the plots are drawn from metrics.jsonl by `rlvr.plots`).

Library code never prints; it hands metrics and messages to a `Tracker`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rlvr.config import TrackingConfig
from rlvr.errors import ConfigError


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Inf; keep them visible instead of failing
    return value


class Tracker:
    """Writes `metrics.jsonl` (one JSON object per step or event), `samples.jsonl`, drives the progress bar,
    and mirrors everything to wandb (offline unless configured) when wandb is installed."""

    def __init__(
        self,
        run_dir: Path,
        cfg: TrackingConfig,
        total_steps: int,
        config: dict[str, Any] | None = None,
        *,
        global_step: int = 0,
        wandb_id: str | None = None,
    ):
        """`global_step` and `wandb_id` continue a run (see `rlvr.rundir.RunState`): the global step goes on
        from the larger of `global_step` and the last one in metrics.jsonl, and wandb resumes the same run."""
        self.run_dir = run_dir
        self.cfg = cfg
        run_dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = run_dir / "metrics.jsonl"
        self.samples_path = run_dir / "samples.jsonl"
        # Every logged step, rollbacks and resumes included, gets the next global step: wandb keeps only
        # increasing steps, and the training step (which goes back after a rollback) is logged as train/step.
        self.global_step = max(global_step, self._last_global_step())
        self.console = Console(stderr=True)
        self._wandb = self._init_wandb(config, wandb_id) if cfg.wandb != "disabled" else None
        self.wandb_hint = ""  # where the wandb run went, said once at the end (wandb itself is silenced)
        self._progress = StepProgress(self.console, total_steps) if cfg.progress and total_steps > 0 else None

    def _last_global_step(self) -> int:
        if not self.metrics_path.exists():
            return 0
        return max((int(r.get("global_step", 0)) for r in read_metrics(self.metrics_path)), default=0)

    @property
    def wandb_id(self) -> str | None:
        return self._wandb.id if self._wandb is not None else None

    def _init_wandb(self, config: dict[str, Any] | None, wandb_id: str | None):
        try:
            import wandb
        except ImportError:
            return None
        mode = self.cfg.wandb if self.cfg.wandb in ("online", "offline") else "offline"
        if mode == "online" and not (os.environ.get("WANDB_API_KEY") or Path("~/.netrc").expanduser().exists()):
            mode = "offline"  # never block a run on a login prompt
        return wandb.init(
            settings=wandb.Settings(silent=True),  # no banner, no history block: our own line says where it is
            project=self.cfg.project,
            dir=str(self.run_dir),
            mode=mode,
            config=config,
            name=self.run_dir.name,
            id=wandb_id,
            resume="allow" if wandb_id else None,
            reinit="finish_previous",
        )

    def _append(self, step: int, fields: dict[str, Any]) -> None:
        record = {
            "step": step,
            "global_step": self.global_step,
            "time": time.time(),
            **{k: _jsonable(v) for k, v in fields.items()},
        }
        with self.metrics_path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """One step's metrics under training step `step` and the next global step."""
        self.global_step += 1
        self._append(step, metrics)
        if self._wandb is not None:
            numeric = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
            self._wandb.log({**numeric, "train/step": step}, step=self.global_step)
        if self._progress is not None:
            self._progress.update(step, metrics)

    def event(self, step: int, event: str, **fields: Any) -> None:
        """A discrete event (rollback, resume) in metrics.jsonl, on the console, and in wandb (a counter, the
        numeric fields, and the text as a warning line in the run's log)."""
        text = f"[step {step}] {event}: " + ", ".join(f"{k}={v}" for k, v in fields.items())
        self._append(step, {"event": event, **fields})
        if self._wandb is not None:
            import wandb

            numeric = {f"event/{event}/{k}": v for k, v in fields.items() if isinstance(v, (int, float))}
            # the next row's step: the last one may already be committed (a resumed wandb run starts past it)
            self._wandb.log({f"event/{event}": 1, **numeric}, step=self.global_step + 1)
            wandb.termwarn(text)
        self.message(text)

    def samples(self, step: int, rows: list[dict[str, Any]]) -> None:
        """Completions of step `step`, written while the step runs: they belong to the next global step."""
        with self.samples_path.open("a") as f:
            for row in rows:
                f.write(json.dumps({"step": step, "global_step": self.global_step + 1, **row}) + "\n")
        if self._wandb is not None and rows:
            import wandb

            columns = sorted(rows[0])
            table = wandb.Table(columns=columns, data=[[str(r[c]) for c in columns] for r in rows])
            self._wandb.log({"samples": table}, step=self.global_step + 1)

    def truncate_after(self, global_step: int) -> None:
        """Drop the step records logged after global step `global_step` (a resumed run redoes those steps;
        the dead process's rows would repeat). Events stay: a rollback or a resume happened, whatever
        followed. Records of runs older than the global step use their training step instead."""

        def keep(record: dict[str, Any]) -> bool:
            return "event" in record or record.get("global_step", record["step"]) <= global_step

        for path in (self.metrics_path, self.samples_path):
            if path.exists():
                kept = [line for line in path.read_text().splitlines() if line and keep(json.loads(line))]
                path.write_text("".join(line + "\n" for line in kept))

    def message(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)  # a log line stays one line

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        Console().print(table)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._wandb is not None:
            run = self._wandb
            offline = run.settings.mode == "offline"  # (asking an offline run for its url prints a warning)
            run_files = Path(run.dir).parent  # wandb/offline-run-<time>-<id>/files -> the run's own directory
            self.wandb_hint = f"wandb sync {run_files}" if offline else f"wandb run {run.url}"
            run.finish()


class StepProgress:
    """One progress line per step, with the step time, reward, last held-out accuracy and an ETA: a live
    rich bar on a terminal, and one printed line per step anywhere else (CI logs, `nohup`, `| tee`), where
    a live bar would print nothing.

    The ETA is the mean wall clock between the last 10 training steps' lines, evaluations included, times the
    steps left: rich's own estimate counts progress since this process started, which a resumed run (starting
    at step 30) throws off."""

    WINDOW = 10

    def __init__(
        self, console: Console, total: int, *, live: bool | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.console = console
        self.total = total
        self.accuracy: float | None = None
        self.clock = clock
        self.step_times: list[float] = []
        self._last: float | None = None
        self.live = (console.is_terminal or os.environ.get("RLVR_FORCE_PROGRESS") is not None) if live is None else live
        self._bar: Progress | None = None
        if self.live:
            self._bar = Progress(
                TextColumn("[bold]step"), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(), console=console,
            )  # fmt: skip
            self._task = self._bar.add_task("train", total=total, status="")
            self._bar.start()

    def status(self, step: int, metrics: dict[str, Any]) -> str:
        if isinstance(metrics.get("eval/accuracy"), (int, float)):
            self.accuracy = float(metrics["eval/accuracy"])
        if "reward/mean" in metrics:  # a training step: the wall clock since the last one (or its own time)
            now = self.clock()
            took = now - self._last if self._last is not None else metrics.get("time/step_s")
            self._last = now
            if isinstance(took, (int, float)):
                self.step_times = [*self.step_times, float(took)][-self.WINDOW :]
        parts = []
        if isinstance(metrics.get("reward/mean"), (int, float)):
            parts.append(f"reward {metrics['reward/mean']:.3f}")
        if self.accuracy is not None:
            parts.append(f"acc {100 * self.accuracy:.1f}%")
        if self.step_times:
            mean = sum(self.step_times) / len(self.step_times)
            left = max(0, self.total - step) * mean
            parts += [f"{mean:.2f} s/step", f"eta {int(left // 60)}m{int(left % 60):02d}s"]
        return " · ".join(parts)

    def update(self, step: int, metrics: dict[str, Any]) -> None:
        status = self.status(step, metrics)
        if self._bar is not None:
            self._bar.update(self._task, completed=step, status=status)
        elif "reward/mean" in metrics:  # a training step (an evaluation-only record updates the accuracy)
            self.console.print(f"step {step}/{self.total} · {status}", markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL file a run writes (metrics.jsonl, samples.jsonl); a line that is not JSON is a
    one-line ConfigError naming it."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError:
                raise ConfigError(f"{path}:{number} is not JSON; was the file edited by hand?") from None
    return rows
