"""`rlvr plot RUN_DIR`: one PNG per question a user asks of a run, drawn from its `metrics.jsonl`.

    plots/reward.png        total reward and each reward function's mean
    plots/accuracy.png      held-out accuracy (strict and lenient) at every evaluation
    plots/length.png        response length (mean, max)
    plots/entropy.png       policy entropy
    plots/kl.png            KL to the reference (when there is one) and the update's own KL
    plots/clip_frac.png     PPO clip fraction
    plots/skipped.png       groups skipped (zero variance) and the constant fraction
    plots/step_time.png     where a step's time goes: generate, score, learn, idle, the whole step
    metrics.png             the same panels on one page (the run's overview)

Every panel marks rollbacks (red dashed, at the step that failed) and evaluations (grey dotted). A rollback
sends the training step back, so each trajectory is its own line segment instead of a zig-zag.

Each PNG carries what it drew, read back from the drawn lines themselves, as JSON in its `rlvr:series`
text chunk: `{panel: {"series": {label: [[x...], [y...]]}, "rollback": [steps], "eval": [steps]}}`. Tests
and anyone who doubts a plot compare that with `metrics.jsonl` without reading pixels.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlvr.errors import StorageError
from rlvr.tracking import read_metrics

SERIES_KEY = "rlvr:series"


@dataclass(frozen=True)
class Panel:
    """One plot: a title and the metrics it draws (a key ending in `/*/mean` draws every reward function)."""

    name: str
    title: str
    keys: tuple[str, ...]
    ylabel: str = ""


PANELS: tuple[Panel, ...] = (
    Panel("reward", "reward (total and per function)", ("reward/mean", "reward/*/mean")),
    Panel("accuracy", "held-out accuracy", ("eval/accuracy", "eval/lenient_accuracy")),
    Panel("length", "response length", ("rollout/length_mean", "rollout/length_max"), "tokens"),
    Panel("entropy", "policy entropy", ("learn/entropy",), "nats/token"),
    Panel("kl", "KL", ("learn/kl", "learn/update_kl")),
    Panel("clip_frac", "clip fraction", ("learn/clip_frac",)),
    Panel("skipped", "skipped groups", ("groups/skipped", "groups/constant_frac")),
    Panel(
        "step_time",
        "step time breakdown",
        ("time/generate_s", "time/score_s", "time/learn_s", "time/learner_idle_s", "time/step_s"),
        "seconds",
    ),
)


def _number(value: Any) -> float | None:
    """A plottable number: JSON numbers and the strings the tracker writes for NaN/Inf."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("nan", "inf", "-inf"):
        return float(value)
    return None


def panel_keys(panel: Panel, records: list[dict[str, Any]]) -> list[str]:
    """The metric keys a panel draws for this run, wildcards expanded, in the panel's order."""
    present = {key for record in records for key in record}
    keys: list[str] = []
    for key in panel.keys:
        if "*" in key:
            prefix, suffix = key.split("*")
            keys += sorted(k for k in present if k.startswith(prefix) and k.endswith(suffix) and k != "reward/mean")
        elif key in present:
            keys.append(key)
    return keys


def trajectories(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The step records split at every rollback: each part's steps go forward."""
    parts: list[list[dict[str, Any]]] = [[]]
    for record in records:
        if record.get("event") == "rollback":
            parts.append([])
        elif "event" not in record:
            parts[-1].append(record)
    return [part for part in parts if part]


def events(records: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Steps of the rollbacks and of the evaluations."""
    return {
        "rollback": [int(r["step"]) for r in records if r.get("event") == "rollback"],
        "eval": sorted({int(r["step"]) for r in records if "event" not in r and "eval/accuracy" in r}),
    }


def _draw(ax, panel: Panel, records: list[dict[str, Any]], marks: dict[str, list[int]]) -> None:
    keys = panel_keys(panel, records)
    parts = trajectories(records)
    for index, key in enumerate(keys):
        color = f"C{index}"
        labelled = False
        for part in parts:
            points = [(r["step"], v) for r in part if (v := _number(r.get(key))) is not None]
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            few = len(xs) < 12
            line = ax.plot(xs, ys, color=color, marker="o" if few else None, markersize=3,
                           label=None if labelled else key)[0]  # fmt: skip
            line.set_gid(key)  # the metric a line draws, whatever its legend says (`drawn` reads it)
            labelled = True
    for step in marks["rollback"]:
        ax.axvline(step, color="red", linestyle="--", linewidth=1)
    for step in marks["eval"]:
        ax.axvline(step, color="grey", linestyle=":", linewidth=0.8)
    ax.set_title(panel.title if keys else f"{panel.title} (not logged)")
    ax.set_xlabel("step")
    if panel.ylabel:
        ax.set_ylabel(panel.ylabel)
    ax.grid(alpha=0.3)
    if keys:
        ax.legend(fontsize=7)


def drawn(ax) -> dict[str, Any]:
    """What the axes actually drew: `series` (x and y of every metric's segments, joined in order, by the
    metric each line was drawn for) and the steps of the `rollback` and `eval` marks."""
    series: dict[str, list[list[Any]]] = {}
    marks: dict[str, list[float]] = {"rollback": [], "eval": []}
    for line in ax.get_lines():
        style = line.get_linestyle()
        if style in ("--", ":"):  # event marks: vertical lines at one x
            marks["rollback" if style == "--" else "eval"].append(float(line.get_xdata()[0]))
            continue
        xs, ys = series.setdefault(line.get_gid(), [[], []])
        xs += [float(x) for x in line.get_xdata()]
        ys += [float(y) if math.isfinite(float(y)) else str(float(y)) for y in line.get_ydata()]
    return {"series": series, **marks}


def _save(fig, path: Path, series: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, dpi=110, format="png", metadata={SERIES_KEY: json.dumps(series)})
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"could not write {path} ({exc.strerror or exc})") from None


def plot_run(run_dir: Path) -> list[Path]:
    """Write the panels of `run_dir/metrics.jsonl` (see the module docstring); returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(run_dir / "metrics.jsonl")
    marks = events(records)
    out_dir = run_dir / "plots"
    try:
        out_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise StorageError(f"could not create {out_dir} ({exc.strerror or exc})") from None
    written: list[Path] = []
    for panel in PANELS:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        _draw(ax, panel, records, marks)
        fig.tight_layout()
        _save(fig, out_dir / f"{panel.name}.png", {panel.name: drawn(ax)})
        plt.close(fig)
        written.append(out_dir / f"{panel.name}.png")
    columns = 4
    rows = math.ceil(len(PANELS) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.4 * columns, 3.3 * rows))
    overview: dict[str, Any] = {}
    for ax, panel in zip(axes.flat, PANELS, strict=False):
        _draw(ax, panel, records, marks)
        overview[panel.name] = drawn(ax)
    fig.tight_layout()
    _save(fig, run_dir / "metrics.png", overview)
    plt.close(fig)
    written.append(run_dir / "metrics.png")
    return written


def read_series(png: Path) -> dict[str, Any]:
    """The series a PNG written here says it drew (see the module docstring)."""
    from PIL import Image

    with Image.open(png) as image:
        return json.loads(image.text[SERIES_KEY])


def main(argv: list[str]) -> None:
    """`rlvr plot RUN_DIR`."""
    from rlvr.errors import one_line_parser
    from rlvr.rundir import reading

    parser = one_line_parser("rlvr plot", "PNG plots of a finished run's metrics")
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    with reading(args.run_dir) as run_dir:
        written = plot_run(run_dir)
    print(f"wrote {len(written) - 1} plots to {run_dir / 'plots'}/ and the overview {run_dir / 'metrics.png'}")
