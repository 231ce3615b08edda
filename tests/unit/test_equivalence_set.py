"""The MATH-500 equivalence set (benchmarks/math_equivalence.json): our rewrites of every gold answer, graded
against the gold answers read from ../shared/data at run time. No false positive is acceptable."""

import json

import pytest

from rewards.math import grade
from tests.conftest import MATH500, ROOT

SET = ROOT / "benchmarks" / "math_equivalence.json"


@pytest.fixture(scope="module")
def pairs():
    golds = {row["unique_id"]: row["answer"] for row in json.loads(MATH500.read_text())}
    rewrites = json.loads(SET.read_text())["pairs"]
    assert set(rewrites) == set(golds), "every MATH-500 problem has rewrites, and only those"
    out = []
    for uid, entry in rewrites.items():
        assert entry["equivalent"] and entry["different"], uid
        out += [(golds[uid], p, True) for p in entry["equivalent"]]
        out += [(golds[uid], p, False) for p in entry["different"]]
    return out


def test_the_set_is_large_enough(pairs):
    assert len(pairs) >= 1500


@pytest.mark.slow
def test_no_false_positives_and_no_false_negatives(pairs):
    wrong = [(gold, p, should) for gold, p, should in pairs if grade(f"\\boxed{{{p}}}", gold) != should]
    false_positives = [w for w in wrong if not w[2]]
    assert false_positives == []
    assert wrong == []
