"""The frozen verifier benchmark (tests/data/): its files are the ones the recorded numbers were measured on, its
labels come from a person or a construction rule (never from the grader), and the grader meets its targets on it.

Golds of MATH-500 are read from ../shared/data at run time; the set stores problem ids and completions only.
"""

import hashlib
import importlib.util
import io
import json
import re
import sys
import tarfile

import pytest

from rewards.math import grade_detail
from tests.conftest import MATH500, ROOT

DATA = ROOT / "tests" / "data"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return load_script("bench_verifier")


@pytest.fixture(scope="module")
def golds():
    return {row["unique_id"]: row["answer"] for row in json.loads(MATH500.read_text())}


def test_frozen_files_match_the_recorded_sha256(bench):
    benchmarks_md = (ROOT / "BENCHMARKS.md").read_text()
    for name, digest in bench.FROZEN.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name
        assert digest in benchmarks_md, f"BENCHMARKS.md does not record the sha256 of {name}"
    assert bench.math_verify_suite.SDIST_SHA256 in benchmarks_md, "BENCHMARKS.md does not record the sdist's sha256"


def test_the_benchmark_refuses_a_changed_file(bench, monkeypatch):
    monkeypatch.setitem(bench.FROZEN, "math500_rewrites.json", "0" * 64)
    with pytest.raises(SystemExit, match="frozen"):
        bench.frozen("math500_rewrites.json")


def test_the_rewrites_are_what_the_generator_writes_and_it_never_calls_a_grader():
    generator = load_script("make_equivalence_set")
    source = (ROOT / "scripts" / "make_equivalence_set.py").read_text()
    assert not re.search(r"^\s*(?:from|import)\s+rewards", source, re.MULTILINE)
    assert generator.build(json.loads(MATH500.read_text())) == (DATA / "math500_rewrites.json").read_text()


def test_every_math500_problem_is_covered_with_both_labels(golds):
    pairs = json.loads((DATA / "math500_rewrites.json").read_text())["pairs"]
    assert {p["problem"] for p in pairs} == set(golds)
    for uid in golds:
        labels = {p["equivalent"] for p in pairs if p["problem"] == uid}
        assert labels == {True, False}, uid


@pytest.fixture(scope="module")
def verdicts(bench):
    pairs = bench.load_pairs(MATH500, math_verify_suite_too=False)
    return [(p, bench.rlvr_judge(p)) for p in pairs]


def test_no_false_positive_and_no_false_negative_on_the_hand_labelled_set(verdicts):
    assert {p.source for p, _ in verdicts} == {"MATH-500 rewrites", "own pairs"}
    wrong = [(p.source, p.id, p.gold, p.completion) for p, v in verdicts if v != p.equivalent]
    assert wrong == []


def test_math_verify_suite_no_false_positive_and_at_least_98_percent(bench):
    """Runs only where the pinned sdist is already in .bench/ (tests never download): after a benchmark run."""
    suite_module = bench.math_verify_suite
    if not (suite_module.CACHE / suite_module.SDIST).exists():
        pytest.skip(f"{suite_module.SDIST} is not in .bench/ (python scripts/bench_verifier.py downloads it)")
    suite = [(p, bench.rlvr_judge(p)) for p in bench.math_verify_pairs(suite_module.load_cases())]
    false_positives = [p.id for p, v in suite if v and not p.equivalent]
    accuracy = sum(v == p.equivalent for p, v in suite) / len(suite)
    assert false_positives == []
    assert accuracy >= 0.98


def test_grading_a_math500_gold_solution_gives_its_gold(golds):
    """Every reference solution of MATH-500 ends in a boxed answer that must grade as its own gold."""
    rows = json.loads(MATH500.read_text())
    wrong = [(r["unique_id"], r["answer"]) for r in rows if not grade_detail(r["solution"], r["answer"]).correct]
    assert wrong == []


# The Math-Verify suite is read from math-verify's sdist at run time. These tests build a tiny sdist of their own
# (made-up test files of the same shape), so they need no network and no copy of the real suite.

SYNTHETIC_TESTS = {
    "tests/test_all.py": r"""
import math
import pytest

def compare_strings(gold, pred, match_types=["latex", "expr"], precision=6, strict=True):
    pass

@pytest.mark.parametrize("gold,pred,expected", [("$1/2$", "0.5", 1), (r"$\pi$", "3", 0)])
def test_values(gold, pred, expected):
    same = compare_strings(gold, pred, match_types=["latex"])
    assert same == expected

@pytest.mark.parametrize(
    "gold, pred, expected, precision",
    [("$1/3$", "0.33", 1, 2), (f"{math.sqrt(2):.4f}", "$\\sqrt{2}$", 1, 3)],
)
def test_rounding(gold, pred, expected, precision):
    same = compare_strings(gold, pred, precision=precision, match_types=["expr", "latex"])
    assert same == expected

@pytest.mark.parametrize("pred,expected", [("x", "x")])
def test_extraction_only(pred, expected):
    pass
""",
    "tests/test_plain.py": """
import pytest
from math_verify import parse, verify

@pytest.mark.parametrize("gold, pred, result", [("$5$", "five", 0)])
def test_plain(gold, pred, result):
    assert bool(verify(parse(gold), parse(pred))) is bool(result)
""",
    "tests/conftest.py": "import pytest\n",
    "src/pkg/test_not_a_suite_file.py": "raise SystemExit('never read')\n",
}
SYNTHETIC_EXCLUDED = {"tests/test_all.py::test_rounding[0]": "labelled for precision 2"}
SYNTHETIC_DISPUTED = {"tests/test_all.py::test_values[1]": "a made-up dispute"}
# Written by hand from SYNTHETIC_TESTS: ids count every row of a list, excluded ones too.
SYNTHETIC_CASES = [
    {
        "id": "tests/test_all.py::test_values[0]",
        "gold": "$1/2$",
        "prediction": "0.5",
        "equivalent": True,
        "math_verify_call": {"match_types": ["latex"], "precision": 6},
    },
    {
        "id": "tests/test_all.py::test_values[1]",
        "gold": "$\\pi$",
        "prediction": "3",
        "equivalent": False,
        "math_verify_call": {"match_types": ["latex"], "precision": 6},
        "disputed": "a made-up dispute",
    },
    {
        "id": "tests/test_all.py::test_rounding[1]",
        "gold": "1.4142",
        "prediction": "$\\sqrt{2}$",
        "equivalent": True,
        "math_verify_call": {"match_types": ["expr", "latex"], "precision": 3},
    },
    {
        "id": "tests/test_plain.py::test_plain[0]",
        "gold": "$5$",
        "prediction": "five",
        "equivalent": False,
        "math_verify_call": {"parse": "default"},
    },
]


@pytest.fixture
def suite(bench):
    return bench.math_verify_suite


def write_sdist(path, files: dict[str, str]):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"math_verify-0.9.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_the_suite_is_every_gold_pred_verdict_row_with_the_call_its_test_makes(suite, tmp_path):
    sdist = write_sdist(tmp_path / "s.tar.gz", SYNTHETIC_TESTS)
    extracted = suite.extract(sdist, SYNTHETIC_EXCLUDED, SYNTHETIC_DISPUTED)
    assert extracted["cases"] == SYNTHETIC_CASES
    assert extracted["excluded"] == [{"id": "tests/test_all.py::test_rounding[0]", "why": "labelled for precision 2"}]


def test_an_exclusion_of_a_whole_test_leaves_out_each_of_its_rows(suite, tmp_path):
    sdist = write_sdist(tmp_path / "s.tar.gz", SYNTHETIC_TESTS)
    extracted = suite.extract(sdist, {"tests/test_all.py::test_values": "not equivalence"}, {})
    assert [c["id"] for c in extracted["excluded"]] == [
        "tests/test_all.py::test_values[0]",
        "tests/test_all.py::test_values[1]",
    ]
    assert [c["id"] for c in extracted["cases"]] == [
        "tests/test_all.py::test_rounding[0]",
        "tests/test_all.py::test_rounding[1]",
        "tests/test_plain.py::test_plain[0]",
    ]


def test_an_exclusion_or_dispute_that_names_no_case_is_an_error(suite, tmp_path):
    sdist = write_sdist(tmp_path / "s.tar.gz", SYNTHETIC_TESTS)
    with pytest.raises(ValueError, match="test_gone"):
        suite.extract(sdist, {"tests/test_all.py::test_gone": "why"}, {})
    with pytest.raises(ValueError, match=r"test_values\[7\]"):
        suite.extract(sdist, {}, {"tests/test_all.py::test_values[7]": "why"})


def test_the_real_exclusions_and_disputes_say_why(suite):
    assert suite.EXCLUDED and suite.DISPUTED
    assert all(len(why) > 20 for why in [*suite.EXCLUDED.values(), *suite.DISPUTED.values()])


def test_an_sdist_with_another_sha256_is_refused(suite, tmp_path):
    write_sdist(tmp_path / suite.SDIST, SYNTHETIC_TESTS)
    with pytest.raises(SystemExit, match="frozen"):
        suite.load_cases(tmp_path)


def test_cases_are_cached_for_the_pinned_sdist_and_extracted_again_when_the_cache_is_not_theirs(
    suite, tmp_path, monkeypatch
):
    sdist = write_sdist(tmp_path / suite.SDIST, SYNTHETIC_TESTS)
    monkeypatch.setattr(suite, "SDIST_SHA256", hashlib.sha256(sdist.read_bytes()).hexdigest())
    monkeypatch.setattr(suite, "EXCLUDED", SYNTHETIC_EXCLUDED)
    monkeypatch.setattr(suite, "DISPUTED", SYNTHETIC_DISPUTED)
    assert suite.load_cases(tmp_path)["cases"] == SYNTHETIC_CASES
    cached = tmp_path / "math_verify_cases-0.9.0.json"
    stored = json.loads(cached.read_text())
    stored["cases"] = stored["cases"][:1]
    cached.write_text(json.dumps(stored))
    assert suite.load_cases(tmp_path)["cases"] == SYNTHETIC_CASES[:1]  # read back, not extracted again
    stored["key"]["extractor_sha256"] = "0" * 64
    cached.write_text(json.dumps(stored))
    assert suite.load_cases(tmp_path)["cases"] == SYNTHETIC_CASES


def test_without_pypi_the_benchmark_says_how_to_run_without_the_suite(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench.math_verify_suite, "CACHE", tmp_path)
    monkeypatch.setattr(
        bench.math_verify_suite, "PIP_DOWNLOAD", [sys.executable, "-c", "raise SystemExit('no route to PyPI')"]
    )
    monkeypatch.setattr(sys, "argv", ["bench_verifier.py", "--math500", str(MATH500)])
    with pytest.raises(SystemExit) as exit_:
        bench.main()
    assert exit_.value.code == 2
    message = capsys.readouterr().err
    assert "could not download math_verify-0.9.0.tar.gz from PyPI (no route to PyPI)" in message
    assert "--no-math-verify-suite" in message
