"""`rlvr inspect RUN_DIR --step N [--worst|--best] [--n K]`: a step's completions in the terminal, each with
its rewards and the verifier's reason (the extracted answer against the gold one, the failing test).

The rows come from the run's `samples.jsonl` (every completion of the first `tracking.log_samples` groups
of each step). When a rollback made the run redo step N, the completions of its last attempt are shown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from rlvr.errors import ConfigError, one_line_parser
from rlvr.rundir import reading
from rlvr.tracking import read_metrics


def step_rows(run_dir: Path, step: int) -> list[dict[str, Any]]:
    """The logged completions of training step `step` (its last attempt), or a one-line ConfigError."""
    path = run_dir / "samples.jsonl"
    if not path.exists():
        raise ConfigError(f"{run_dir} has no samples.jsonl (tracking.log_samples=0?); nothing to inspect")
    rows = read_metrics(path)
    mine = [r for r in rows if r.get("step") == step]
    if not mine:
        steps = sorted({int(r["step"]) for r in rows if isinstance(r.get("step"), int)})
        logged = f"steps {steps[0]}-{steps[-1]}" if steps else "no step"
        raise ConfigError(f"{run_dir} logged no completions of step {step} ({logged} in samples.jsonl)")
    last = max(r.get("global_step", 0) for r in mine)
    return [r for r in mine if r.get("global_step", 0) == last]


def select(rows: list[dict[str, Any]], order: str, n: int | None) -> list[dict[str, Any]]:
    """`order`: "worst" (lowest total reward first), "best" (highest first) or "logged" (file order)."""
    if order != "logged":
        rows = sorted(rows, key=lambda r: float(r.get("reward", 0.0)), reverse=order == "best")
    return rows if n is None else rows[:n]


def verdict_line(name: str, info: dict[str, Any]) -> str:
    """One reward function's details, as a reader wants them: what was extracted, against what, and why."""
    parts = []
    if "extracted" in info:
        parts.append(f"extracted {info['extracted']!r}")
    if "passed" in info and "total" in info:
        parts.append(f"{info['passed']}/{info['total']} tests passed")
    reason = info.get("reason")
    if reason:
        parts.append(str(reason))
    rest = {k: v for k, v in info.items() if k not in ("extracted", "passed", "total", "reason", "correct")}
    if rest:
        parts.append(json.dumps(rest)[:300])
    return f"{name}: " + "; ".join(parts)


def render(rows: list[dict[str, Any]], console: Console) -> None:
    for row in rows:
        rewards = ", ".join(f"{k}={v:g}" for k, v in row.get("rewards", {}).items())
        header = Text(
            f"sample {row.get('sample_id')} · rollout {row.get('rollout', 0)} · reward {row.get('reward', 0.0):g}"
            f" ({rewards}) · {row.get('tokens', '?')} tokens · {row.get('finish_reason')}",
            style="bold",
        )
        console.print(header)
        if row.get("answer") is not None:
            console.print(Text(f"  gold: {row['answer']}"))
        for name, info in row.get("reward_infos", {}).items():
            console.print(Text("  " + verdict_line(name, info), style="cyan"))
        console.print(Text("  " + row.get("completion", "").replace("\n", "\n  ")))
        console.print()


def main(argv: list[str]) -> None:
    """`rlvr inspect`."""
    parser = one_line_parser("rlvr inspect", "a step's completions, rewards and verdicts")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--step", type=int, required=True, help="training step whose completions to show")
    order = parser.add_mutually_exclusive_group()
    order.add_argument("--worst", action="store_true", help="lowest total reward first")
    order.add_argument("--best", action="store_true", help="highest total reward first")
    parser.add_argument("--n", type=int, default=None, help="show only K completions")
    args = parser.parse_args(argv)
    if args.n is not None and args.n < 1:
        raise ConfigError(f"--n must be >= 1, got {args.n}")
    with reading(args.run_dir) as run_dir:
        rows = step_rows(run_dir, args.step)
    chosen = select(rows, "worst" if args.worst else "best" if args.best else "logged", args.n)
    console = Console(soft_wrap=True, highlight=False)
    console.print(Text(f"step {args.step}: {len(chosen)} of {len(rows)} logged completions", style="bold underline"))
    console.print()
    render(chosen, console)
