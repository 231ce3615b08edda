"""`rlvr bench <overrides>`: where a training step's time goes, measured on the real loop.

    rlvr bench experiment=tiny --steps 10
    rlvr bench experiment=tiny rollout.mode=actor rollout.max_staleness=1 algo.tis_cap=2 --json

Runs `--steps` training steps of the composed recipe (evaluation, the final export and wandb off; everything
else as configured) in a temporary run directory, and prints the median over the steps after the first (which
pays for warm-up) of: the step time (wall clock between the ends of consecutive optimizer steps) split into
generate (in the learner's process), score, learn, sync, idle (the learner waiting for actors) and other;
rollout tokens/s (completion tokens generated per second of step) and learner tokens/s (completion tokens
trained on per second of learning); with actors, the overlap of generation and learning (each side's busy
time and the step over the larger); and the peak resident memory of the learner and of its child processes
(actors, reward workers), and peak CUDA memory when there is a GPU. `--json` prints the same as one JSON
object on the last line.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PARTS = ("generate", "score", "learn", "sync", "idle", "other")


def breakdown(row: dict[str, Any]) -> dict[str, float]:
    """One step's seconds by part (they add up to `step`)."""
    idle = float(row.get("time/learner_idle_s", 0.0))
    parts = {
        "generate": float(row.get("time/generate_s", 0.0)) - idle,
        "score": float(row.get("time/score_s", 0.0)),
        "learn": float(row.get("time/learn_s", 0.0)),
        "sync": float(row.get("rollout/sync_s", 0.0)),
        "idle": idle,
    }
    step = float(row["time/step_s"])
    parts["other"] = max(0.0, step - sum(parts.values()))
    return {"step": step, **parts}


def overlap(row: dict[str, Any], actors: int) -> dict[str, float] | None:
    """With actors, how much of generation and learning ran at the same time: the learner's busy time (the step
    less its idle wait), one actor's busy time (the step less its share of `time/actor_idle_s`), and the step
    over the larger of the two (1.0: the shorter one hid entirely behind the longer; their sum over the larger:
    nothing overlapped). None without actors."""
    if "time/actor_idle_s" not in row:
        return None
    step = float(row["time/step_s"])
    learner = step - float(row.get("time/learner_idle_s", 0.0))
    actor = step - float(row["time/actor_idle_s"]) / actors
    return {"learner_busy": learner, "actor_busy": actor, "step_over_max": step / max(learner, actor, 1e-9)}


def summarize(rows: list[dict[str, Any]], actors: int = 1) -> dict[str, Any]:
    """Medians over the steps after the first (see the module docstring)."""
    steps = [r for r in rows if "time/step_s" in r and "event" not in r][1:]
    if not steps:
        raise ValueError("rlvr bench needs at least 2 steps (the first is warm-up)")
    parts = [breakdown(r) for r in steps]
    median = {key: statistics.median(p[key] for p in parts) for key in ("step", *PARTS)}
    rollout_tps = statistics.median(r["rollout/tokens"] / r["time/step_s"] for r in steps)
    learner_tps = statistics.median(
        r["learn/tokens"] / r["time/learn_s"] for r in steps if r.get("time/learn_s", 0) > 0
    )
    result = {"steps_measured": len(steps), "seconds": median, "rollout_tokens_per_s": rollout_tps,
              "learner_tokens_per_s": learner_tps}  # fmt: skip
    syncs = [r for r in steps if r.get("rollout/sync_mb")]
    if syncs:  # weights pushed to engines in other processes: how long per MB, on the learner's side
        result["sync"] = {
            "mb": statistics.median(r["rollout/sync_mb"] for r in syncs),
            "ms_per_mb": statistics.median(1000 * r["rollout/sync_s"] / r["rollout/sync_mb"] for r in syncs),
        }
    overlaps = [o for o in (overlap(r, actors) for r in steps) if o is not None]
    if overlaps:
        result["overlap"] = {key: statistics.median(o[key] for o in overlaps) for key in overlaps[0]}
    return result


def peak_memory() -> dict[str, float]:
    """Peak resident set of this process and of its (finished) children, in MB; peak CUDA memory if any."""
    out = {
        "learner_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    import torch

    if torch.cuda.is_available():
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def run(overrides: list[str], steps: int) -> dict[str, Any]:
    from rlvr.config import compose
    from rlvr.run import train
    from rlvr.tracking import read_metrics

    with tempfile.TemporaryDirectory(prefix="rlvr-bench-") as tmp:
        run_dir = Path(tmp) / "run"
        fixed = [
            f"steps={steps}", f"run_dir={run_dir}", "tracking.wandb=disabled", "tracking.progress=false",
            "tracking.plots=false",
            "eval.before_training=false", "eval.after_training=false", "eval.every=0",
            "checkpoint.save_final=false", "checkpoint.every=0",
        ]  # fmt: skip
        cfg = compose([*overrides, *fixed])
        start = time.perf_counter()
        train(cfg)
        wall = time.perf_counter() - start
        rows = read_metrics(run_dir / "metrics.jsonl")
    result = summarize(rows, cfg.rollout.actors)
    result.update(peak_memory())
    result.update(
        {
            "overrides": overrides,
            "steps": steps,
            "wall_s": wall,
            "machine": {"cpus": _cpus(), "python": platform.python_version(), "platform": platform.platform()},
        }
    )
    return result


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def render(result: dict[str, Any]) -> str:
    s = result["seconds"]
    lines = [
        f"rlvr bench: {result['steps_measured']} steps measured (of {result['steps']}; the first is warm-up)",
        f"  step {s['step']:.3f} s = " + " + ".join(f"{part} {s[part]:.3f}" for part in PARTS),
        f"  rollout {result['rollout_tokens_per_s']:.0f} tokens/s, learner {result['learner_tokens_per_s']:.0f} "
        "tokens/s",
        *(
            [
                f"  overlap: learner busy {o['learner_busy']:.3f} s, each actor busy {o['actor_busy']:.3f} s; step / "
                f"max of the two = {o['step_over_max']:.2f} (1.00: fully overlapped)"
            ]
            if (o := result.get("overlap"))
            else []
        ),
        *(
            [f"  weight sync: {w['mb']:.1f} MB in {w['ms_per_mb']:.2f} ms per MB (the learner's side: written, queued)"]
            if (w := result.get("sync"))
            else []
        ),
        f"  peak RSS: learner {result['learner_peak_rss_mb']:.0f} MB, children {result['children_peak_rss_mb']:.0f} MB"
        + (f", CUDA {result['cuda_peak_mb']:.0f} MB" if "cuda_peak_mb" in result else ""),
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="rlvr bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="training steps (the first is excluded)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    args, overrides = parser.parse_known_args(argv)
    if args.steps < 2:
        parser.error("--steps must be >= 2 (the first step is warm-up)")
    result = run(overrides, args.steps)
    print(render(result))
    if args.json:
        print(json.dumps(result))
    sys.stdout.flush()
