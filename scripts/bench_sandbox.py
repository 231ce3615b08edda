"""Sandboxed executions per second with N workers: each execution is a full bubblewrap sandbox (namespaces,
rlimits, fresh Python interpreter) running a small program, as the code reward does per test.

    python scripts/bench_sandbox.py [--workers 1 2 4] [--executions 200]

Each worker is a process of the reward pool (`rewards.pool.RewardPool`), as in training.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rewards.pool import RewardPool, RewardSpec  # noqa: E402

PROGRAM = "```python\ndef solve(n):\n    return sum(i * i for i in range(n))\n```"
TESTS = ["assert solve(10) == 285"]


def measure(workers: int, executions: int) -> float:
    spec = RewardSpec("code", "code_pass_rate", timeout_s=30.0)
    with RewardPool([spec], workers=workers) as pool:
        pool.score([PROGRAM] * workers, [{"tests": TESTS}] * workers)  # warm the workers up
        start = time.perf_counter()
        result = pool.score([PROGRAM] * executions, [{"tests": TESTS}] * executions)
        seconds = time.perf_counter() - start
    assert all(row == [1.0] for row in result.rewards), "every execution should pass its test"
    return executions / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--executions", type=int, default=200)
    args = parser.parse_args()
    for workers in args.workers:
        print(f"{workers} workers: {measure(workers, args.executions):.1f} sandboxed executions/s")


if __name__ == "__main__":
    main()
