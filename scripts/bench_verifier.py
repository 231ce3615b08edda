"""Benchmark the math verifier against labels it did not make, side by side with math-verify, in one run.

    python scripts/bench_verifier.py [--math500 ../shared/data/math500_test.json] [--no-peer]
                                     [--no-math-verify-suite] [--json out.json]

Sources:
- "MATH-500 rewrites": completions for MATH-500 problems, rewritten by hand into equivalent forms or near misses,
  or built by a rule whose label follows from the rule (tests/data/math500_rewrites.json, written by
  scripts/make_equivalence_set.py, which never calls a grader; refused if its sha256 differs from the one
  recorded below); the gold answers are read from --math500 now.
- "own pairs": pairs with their own gold strings, for families MATH-500's golds lack (same file).
- "Math-Verify suite": the public cases of Math-Verify's tests/ with the verdicts they assert, read from
  math-verify's sdist on PyPI at run time (scripts/math_verify_suite.py: pinned by sha256, cached in .bench/;
  it needs PyPI the first time, --no-math-verify-suite skips it).

Each grader sees each pair the same way: rlvr `grade_detail(completion, gold)` (with `fallback_text` and
`fallback_last_number` on for the Math-Verify suite, whose completions often have no box; math-verify reads
unboxed text by default), math-verify `verify(parse(gold), parse(completion))` with the gold wrapped in `$...$`
(for the Math-Verify suite, exactly the call its own test makes). Accuracy is against the stored labels; a false
positive is a wrong answer graded correct, the error that teaches a model wrong answers.

Speed: latency of every call in this one process (pinned to one core where the OS allows); p50/p99 over the whole
set, gradings/s = calls / total time, and the same on the "common" subset (gold and answer both integers, decimals
or fractions). "rlvr" starts with empty parse caches and keeps them, as in training, where a gold is graded
against every completion of its group; "rlvr uncached" empties them before every call.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rewards.math import clear_caches, grade_detail  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
import math_verify_suite  # noqa: E402

DATA = ROOT / "tests" / "data"
FROZEN = {
    "math500_rewrites.json": "9640170187f92f6c142f963adae12c293db996bd2e6b871f9df2b30856ac3eed",
}
COMMON = re.compile(r"-?\d+(?:\.\d+)?|-?\\[dt]?frac\{?\d+\}?\{?\d+\}?|-?\d+/\d+")


class Pair:
    __slots__ = ("completion", "equivalent", "gold", "id", "mv_call", "source")

    def __init__(self, source: str, id: str, gold: str, completion: str, equivalent: bool, mv_call=None) -> None:
        self.source, self.id, self.gold, self.completion = source, id, gold, completion
        self.equivalent, self.mv_call = equivalent, mv_call


def frozen(name: str) -> dict:
    """The frozen file, after checking it is the one the recorded numbers were measured on."""
    data = (DATA / name).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != FROZEN[name]:
        raise SystemExit(f"{name} changed (sha256 {digest}, expected {FROZEN[name]}): the benchmark set is frozen")
    return json.loads(data)


def load_pairs(math500: Path, math_verify_suite_too: bool = True) -> list[Pair]:
    """The hand-labelled pairs, then (unless told not to) the Math-Verify suite's cases."""
    golds = {row["unique_id"]: row["answer"] for row in json.loads(math500.read_text())}
    rewrites = frozen("math500_rewrites.json")
    pairs = [
        Pair("MATH-500 rewrites", p["problem"], golds[p["problem"]], p["completion"], p["equivalent"])
        for p in rewrites["pairs"]
    ]
    pairs += [Pair("own pairs", p["family"], p["gold"], p["completion"], p["equivalent"]) for p in rewrites["own"]]
    if not math_verify_suite_too:
        return pairs
    return pairs + math_verify_pairs(math_verify_suite.load_cases())


def math_verify_pairs(suite: dict) -> list[Pair]:
    return [
        Pair("Math-Verify suite", c["id"], c["gold"], c["prediction"], c["equivalent"], c["math_verify_call"])
        for c in suite["cases"]
    ]


def rlvr_judge(pair: Pair) -> bool:
    if pair.source == "Math-Verify suite":
        return grade_detail(pair.completion, pair.gold, fallback_text=True, fallback_last_number=True).correct
    return grade_detail(pair.completion, pair.gold).correct


def uncached_judge(pair: Pair) -> bool:
    """rlvr with its parse cache emptied before every call: both answers parsed from scratch each time."""
    clear_caches()
    return rlvr_judge(pair)


def math_verify_judge() -> Callable[[Pair], bool]:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    def judge(pair: Pair) -> bool:
        try:
            call = pair.mv_call
            if call is None:
                return bool(verify(parse(f"${pair.gold}$"), parse(pair.completion)))
            if call.get("parse") == "default":
                return bool(verify(parse(pair.gold), parse(pair.completion)))
            configs = [
                LatexExtractionConfig(boxed_match_priority=0) if t == "latex" else ExprExtractionConfig()
                for t in call["match_types"]
            ]
            return bool(
                verify(
                    parse(pair.gold, configs),
                    parse(pair.completion, configs),
                    float_rounding=call.get("precision", 6),
                    strict=call.get("strict", True),
                    allow_set_relation_comp=call.get("allow_set_relation_comp", False),
                )
            )
        except Exception:  # math-verify raising on an input counts as "not equivalent"
            return False

    return judge


def run(judge: Callable[[Pair], bool], pairs: list[Pair]) -> tuple[list[bool], list[float]]:
    verdicts, latencies = [], []
    for pair in pairs:
        start = time.perf_counter()
        verdicts.append(judge(pair))
        latencies.append(time.perf_counter() - start)
    return verdicts, latencies


def summary(pairs: list[Pair], verdicts: list[bool], latencies: list[float]) -> dict:
    fp = [p for p, v in zip(pairs, verdicts, strict=True) if v and not p.equivalent]
    fn = [p for p, v in zip(pairs, verdicts, strict=True) if not v and p.equivalent]
    ms = sorted(x * 1000 for x in latencies)
    return {
        "pairs": len(pairs),
        "accuracy": 1 - (len(fp) + len(fn)) / len(pairs),
        "false_positives": len(fp),
        "false_negatives": len(fn),
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 3),
        "gradings_per_s": round(len(ms) / (sum(ms) / 1000)),
        "false_positive_pairs": [[p.source, p.id, p.gold, p.completion] for p in fp],
        "false_negative_pairs": [[p.source, p.id, p.gold, p.completion] for p in fn],
    }


def common(pair: Pair) -> bool:
    inner = re.fullmatch(r"\\boxed\{(.*)\}", pair.completion)
    return bool(inner and COMMON.fullmatch(pair.gold.strip()) and COMMON.fullmatch(inner.group(1).strip()))


def report(pairs: list[Pair], results: dict[str, tuple[list[bool], list[float]]]) -> dict:
    out: dict = {}
    groups = {"all": pairs} | {s: [p for p in pairs if p.source == s] for s in dict.fromkeys(p.source for p in pairs)}
    groups["common answers"] = [p for p in pairs if common(p)]
    index = {id(p): k for k, p in enumerate(pairs)}
    for group, members in groups.items():
        out[group] = {}
        for name, (verdicts, latencies) in results.items():
            ks = [index[id(p)] for p in members]
            out[group][name] = summary(members, [verdicts[k] for k in ks], [latencies[k] for k in ks])
    return out


def print_table(out: dict) -> None:
    head = (
        f"{'set':19} {'grader':14} {'pairs':>5} {'accuracy':>9} {'FP':>4} {'FN':>4} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'gradings/s':>10}"
    )
    print(head)
    print("-" * len(head))
    for group, graders in out.items():
        for name, r in graders.items():
            print(
                f"{group:19} {name:14} {r['pairs']:5d} {100 * r['accuracy']:8.2f}% {r['false_positives']:4d} "
                f"{r['false_negatives']:4d} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f} {r['gradings_per_s']:10d}"
            )


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to cpu {cpu}"
    return "not pinned"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--math500", type=Path, default=ROOT.parent / "shared" / "data" / "math500_test.json")
    parser.add_argument("--no-peer", action="store_true", help="skip math-verify")
    parser.add_argument(
        "--no-math-verify-suite", action="store_true", help="skip the Math-Verify suite (its sdist comes from PyPI)"
    )
    parser.add_argument("--json", type=Path, help="write the full report (with every misgraded pair) here")
    args = parser.parse_args()
    try:
        pairs = load_pairs(args.math500, not args.no_math_verify_suite)
    except math_verify_suite.SuiteUnavailable as exc:
        parser.exit(2, f"bench_verifier: {exc}; rerun with --no-math-verify-suite to skip that suite\n")
    pinned = pin_to_one_core()
    rlvr_judge(pairs[0])  # imports and first-use set-up outside the timings
    clear_caches()
    results = {"rlvr": run(rlvr_judge, pairs), "rlvr uncached": run(uncached_judge, pairs)}
    if not args.no_peer:
        peer = math_verify_judge()
        peer(pairs[0])
        results["math-verify"] = run(peer, pairs)
    out = report(pairs, results)
    meta = {"date": str(date.today()), "machine": f"{platform.machine()} {platform.processor()}", "cpu": pinned}
    print(f"{len(pairs)} pairs; {meta['date']}; {meta['machine']}; {pinned}")
    print_table(out)
    for kind in ("false_positive_pairs", "false_negative_pairs"):
        for source, pid, gold, completion in out["all"]["rlvr"][kind]:
            print(f"  rlvr {kind[:14]}: [{source} {pid}] gold {gold[:80]!r} completion {completion[-120:]!r}")
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": out}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
