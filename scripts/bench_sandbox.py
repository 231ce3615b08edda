"""Completions the code reward scores per second with N workers. Assert tests: each completion is one bubblewrap
sandbox (namespaces, rlimits, a fresh Python interpreter running the harness and the program) that answers the
calls of its tests, which run in the worker (`rewards/code_session.py`). With `--io`, stdin/stdout tests: one
sandbox per test, as the reward runs them.

    python scripts/bench_sandbox.py [--workers 1 2 4] [--executions 200] [--tests 1] [--io]

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
IO_PROGRAM = "```python\nn = int(input())\nprint(sum(i * i for i in range(n)))\n```"


def sample(tests: int, io: bool) -> dict:
    if io:
        return {"tests": {"inputs": [f"{10 + i}\n" for i in range(tests)], "outputs": [f"{s}\n" for s in sums(tests)]}}
    return {"tests": [f"assert solve({10 + i}) == {s}" for i, s in enumerate(sums(tests))]}


def sums(tests: int) -> list[int]:
    return [sum(i * i for i in range(10 + k)) for k in range(tests)]


def measure(workers: int, completions: int, tests: int, io: bool) -> float:
    spec = RewardSpec("code", "code_pass_rate", timeout_s=30.0)
    program = IO_PROGRAM if io else PROGRAM
    with RewardPool([spec], workers=workers) as pool:
        pool.score([program] * workers, [sample(tests, io)] * workers)  # warm the workers up
        start = time.perf_counter()
        result = pool.score([program] * completions, [sample(tests, io)] * completions)
        seconds = time.perf_counter() - start
    assert all(row == [1.0] for row in result.rewards), "every completion should pass its tests"
    return completions / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--executions", type=int, default=200, help="completions to score")
    parser.add_argument("--tests", type=int, default=1, help="tests per completion")
    parser.add_argument("--io", action="store_true", help="stdin/stdout tests instead of asserts")
    args = parser.parse_args()
    kind = "stdin/stdout" if args.io else "assert"
    for workers in args.workers:
        rate = measure(workers, args.executions, args.tests, args.io)
        print(f"{workers} workers: {rate:.1f} completions/s ({args.tests} {kind} tests each)")


if __name__ == "__main__":
    main()
