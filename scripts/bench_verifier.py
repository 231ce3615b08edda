"""Benchmark the math verifier: correctness on the MATH-500 equivalence set, side by side with math-verify
(Hugging Face's grader), and gradings per second on one core.

    python scripts/bench_verifier.py [--math500 ../shared/data/math500_test.json] [--no-peer] [--json out.json]

Correctness: every pair is (gold answer of a MATH-500 problem, one of our rewrites of it) and must be judged
equivalent ("equivalent" rewrites) or not ("different" near-misses). A false positive is a near-miss judged
equivalent, the error that teaches a model wrong answers; a false negative is a correct rewrite rejected.
Both graders see the rewrite wrapped in `\\boxed{}`, as a completion would carry it.

Speed: `grade()` calls per second in this one process, on the common cases (gold and prediction both plain
numbers or fractions, which never reach sympy) and on the whole set (sympy in the helper process included).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rewards.math import grade  # noqa: E402

SET = ROOT / "benchmarks" / "math_equivalence.json"
COMMON = re.compile(r"-?\d+|-?\d*\.\d+|-?\\d?frac\{\d+\}\{\d+\}|-?\d+/\d+")


def load_pairs(math500: Path) -> list[tuple[str, str, str, bool]]:
    """(unique_id, gold, prediction, should_match) for every rewrite, golds read from MATH-500 now."""
    golds = {row["unique_id"]: row["answer"] for row in json.loads(math500.read_text())}
    rewrites = json.loads(SET.read_text())["pairs"]
    pairs = []
    for uid, entry in rewrites.items():
        pairs += [(uid, golds[uid], p, True) for p in entry["equivalent"]]
        pairs += [(uid, golds[uid], p, False) for p in entry["different"]]
    return pairs


def ours(gold: str, prediction: str) -> bool:
    return grade(f"\\boxed{{{prediction}}}", gold)


def math_verify_grader():
    from math_verify import parse, verify

    def judge(gold: str, prediction: str) -> bool:
        try:
            return bool(verify(parse(f"\\boxed{{{gold}}}"), parse(f"\\boxed{{{prediction}}}")))
        except Exception:  # math-verify raising on an input counts as "not equivalent"
            return False

    return judge


def score(judge, pairs) -> dict:
    false_pos, false_neg = [], []
    start = time.perf_counter()
    for uid, gold, prediction, should in pairs:
        if judge(gold, prediction) != should:
            (false_neg if should else false_pos).append({"id": uid, "gold": gold, "prediction": prediction})
    seconds = time.perf_counter() - start
    errors = len(false_pos) + len(false_neg)
    return {
        "pairs": len(pairs),
        "accuracy": 1 - errors / len(pairs),
        "errors": errors,
        "false_positives": len(false_pos),
        "false_negatives": len(false_neg),
        "seconds": round(seconds, 2),
        "false_positive_pairs": false_pos,
        "false_negative_pairs": false_neg,
    }


def throughput(pairs, seconds: float = 3.0) -> float:
    """grade() calls per second over `pairs`, repeated for about `seconds`."""
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _, gold, prediction, _ in pairs:
            ours(gold, prediction)
        n += len(pairs)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--math500", type=Path, default=ROOT.parent / "shared" / "data" / "math500_test.json")
    parser.add_argument("--no-peer", action="store_true", help="skip math-verify")
    parser.add_argument("--json", type=Path, help="write the full report here")
    args = parser.parse_args()
    pairs = load_pairs(args.math500)
    ours(pairs[0][1], pairs[0][2])  # start the sympy helper outside the timings
    report = {"date": str(date.today()), "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}"}
    report["rlvr"] = score(ours, pairs)
    if not args.no_peer:
        report["math_verify"] = score(math_verify_grader(), pairs)
    common = [p for p in pairs if COMMON.fullmatch(p[1].strip()) and COMMON.fullmatch(p[2].strip())]
    report["gradings_per_s_common"] = round(throughput(common))
    report["common_pairs"] = len(common)
    report["gradings_per_s_all"] = round(len(pairs) / report["rlvr"]["seconds"])
    print(f"{len(pairs)} pairs ({sum(p[3] for p in pairs)} equivalent, {sum(not p[3] for p in pairs)} different)")
    for name in ("rlvr", "math_verify"):
        if name in report:
            r = report[name]
            print(
                f"{name:12} accuracy {100 * r['accuracy']:.2f}%  errors {r['errors']:4d}  "
                f"false positives {r['false_positives']:3d}  false negatives {r['false_negatives']:3d}  "
                f"{r['seconds']:.1f}s"
            )
    print(
        f"rlvr gradings/s on one core: {report['gradings_per_s_common']} on {len(common)} common-case pairs "
        f"(numbers, fractions), {report['gradings_per_s_all']} over the whole set"
    )
    for kind in ("false_positive_pairs", "false_negative_pairs"):
        for item in report["rlvr"][kind]:
            print(f"  rlvr {kind[:14]}: gold {item['gold']!r} prediction {item['prediction']!r}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
