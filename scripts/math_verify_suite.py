"""Math-Verify's public regression suite, read at run time from math-verify's source distribution on PyPI.

The repository keeps none of Math-Verify's files or strings: anyone gets the same suite the same way, with
`pip download math-verify==0.9.0 --no-binary :all: --no-deps` (the sdist ships its `tests/`). The file is pinned
by its sha256 (recorded here and in BENCHMARKS.md) and refused if it differs, so the cases and the recorded
numbers always belong together. What the repository does keep is what we wrote: which cases we leave out and
why (EXCLUDED) and which label we dispute (DISPUTED).

A case is one row of a `pytest.mark.parametrize` list of a test that takes `gold`, `pred` and an expected verdict
(`expected` or `result`), read with Python's `ast` (nothing from the sdist is imported or run here). Its id is
`tests/<file>::<test>[<index in that list>]`; `math_verify_call` records how that test calls math-verify, so the
benchmark can make the same call.

The sdist and the extracted cases are cached in .bench/ (not in git).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench"
VERSION = "0.9.0"
SDIST = f"math_verify-{VERSION}.tar.gz"
SDIST_SHA256 = "45ac6c61344ba056b9e99a660a4bc8d044ed408f730aed68c60435aa5eec4645"
PIP_DOWNLOAD = [sys.executable, "-m", "pip", "download", f"math-verify=={VERSION}", "--no-binary", ":all:", "--no-deps"]
# Defaults of the suite's compare_strings helper, for a test that does not pass them.
DEFAULT_MATCH_TYPES = ["latex", "expr"]
DEFAULT_PRECISION = 6

_NUMBER_EXTRACTION = (
    "plain-text number extraction with math-verify's expression-only extractor (European decimal commas such as "
    "`1,22` = 1.22, currency in prose); not a LaTeX equivalence test"
)
_SET_RELATION = (
    "tests math-verify's `allow_set_relation_comp` option: the same pair is labelled 1 or 0 depending on the option"
)
# Cases of the suite we do not score, with why. A key without `[index]` leaves out every case of that test.
EXCLUDED: dict[str, str] = {
    "tests/test_all.py::test_number_extraction": _NUMBER_EXTRACTION,
    "tests/test_all.py::test_latex_notation[5]": (
        "tests math-verify's extraction syntax (an inline `$...$` span may not contain a newline), not equivalence"
    ),
    "tests/test_all.py::test_latex_notation[6]": (
        "tests math-verify's extraction syntax (an inline `\\(...\\)` span may not contain a newline), not equivalence"
    ),
    "tests/test_all.py::test_complex_math_expressions[7]": (
        "labelled for `precision=2` (0.33 accepted for 1/3); math-verify's default precision is 6"
    ),
    "tests/test_all.py::test_complex_math_expressions[13]": (
        "labelled for `precision=2` (2.6667 accepted for 8/3); math-verify's default precision is 6"
    ),
    "tests/test_all.py::test_set_rel_assymetry": _SET_RELATION,
    "tests/test_strict.py::test_strict_variable_comparison[1]": "labelled for `strict=False` (f(y) accepted for f(x))",
}
# Labels we believe are wrong: still scored with the suite's label, and marked so a reader of a report knows.
DISPUTED: dict[str, str] = {
    "tests/test_yujianll.py::test_string_extraction[9]": (
        "labelled equivalent, but 1 - 1/e and 1 + 1/e are different numbers; kept with the suite's label"
    ),
}


class SuiteUnavailable(Exception):
    """The sdist could not be had (no PyPI); the benchmark can still run without the suite."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download_sdist(cache: Path) -> None:
    """pip, the ordinary PyPI client, fetches the sdist (no dependencies, nothing installed)."""
    cache.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run([*PIP_DOWNLOAD, "-d", str(cache)], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SuiteUnavailable(f"could not run pip to download {SDIST}: {exc}") from exc
    if done.returncode != 0 or not (cache / SDIST).exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SuiteUnavailable(f"could not download {SDIST} from PyPI ({last})")


def sdist_path(cache: Path | None = None) -> Path:
    """The pinned sdist, downloaded into the cache (.bench/) the first time; any other file is refused."""
    cache = cache or CACHE
    path = cache / SDIST
    if not path.exists():
        download_sdist(cache)
    digest = sha256(path)
    if digest != SDIST_SHA256:
        raise SystemExit(
            f"{path} has sha256 {digest}, expected {SDIST_SHA256} (math-verify {VERSION}'s sdist on PyPI): "
            "the benchmark suite is frozen; delete the file to download it again"
        )
    return path


def load_cases(cache: Path | None = None) -> dict:
    """The suite's cases, from the cache (.bench/) if they were extracted from this sdist by this very module."""
    cache = cache or CACHE
    sdist = sdist_path(cache)
    key = {"sdist_sha256": SDIST_SHA256, "extractor_sha256": sha256(Path(__file__))}
    cached = cache / f"math_verify_cases-{VERSION}.json"
    if cached.exists():
        suite = json.loads(cached.read_text())
        if suite.get("key") == key:
            return suite
    suite = {"key": key, **extract(sdist)}
    cached.write_text(json.dumps(suite, indent=1, ensure_ascii=False))
    return suite


def extract(sdist: Path, excluded: dict[str, str] | None = None, disputed: dict[str, str] | None = None) -> dict:
    """Every (gold, prediction, expected) case of the test files in the sdist, minus `excluded`.

    Fails if an exclusion or a dispute names no case: the lists must describe this sdist.
    """
    excluded = EXCLUDED if excluded is None else excluded
    disputed = DISPUTED if disputed is None else disputed
    cases, left_out, matched = [], [], set()
    for name, source in suite_files(sdist):
        for case in cases_of_file(name, source):
            test = case["id"].split("[")[0]
            reason = excluded.get(case["id"]) or excluded.get(test)
            matched.update(k for k in (case["id"], test) if k in excluded or k in disputed)
            if reason:
                left_out.append({"id": case["id"], "why": reason})
                continue
            if case["id"] in disputed:
                case["disputed"] = disputed[case["id"]]
            cases.append(case)
    stale = (set(excluded) | set(disputed)) - matched
    if stale:
        raise ValueError(f"exclusions or disputes name no case of {sdist.name}: {sorted(stale)}")
    return {"source": f"{SDIST} (PyPI), sha256 {SDIST_SHA256}", "excluded": left_out, "cases": cases}


def suite_files(sdist: Path) -> list[tuple[str, str]]:
    """(path inside the package, source) of every tests/test_*.py in the sdist, in name order."""
    files = []
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            name = re.fullmatch(r"[^/]+/(tests/test_[^/]*\.py)", member.name)
            if name and member.isfile():
                files.append((name.group(1), tar.extractfile(member).read().decode()))
    return sorted(files)


def cases_of_file(name: str, source: str) -> list[dict]:
    cases = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if is_parametrize(decorator):
                    cases += cases_of_test(f"{name}::{node.name}", decorator, node)
    return cases


def is_parametrize(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and ast.unparse(node.func) == "pytest.mark.parametrize"


def cases_of_test(test: str, parametrize: ast.Call, function: ast.FunctionDef) -> list[dict]:
    """The rows of one parametrize list, if the test compares a gold with a prediction."""
    names_node, rows_node = parametrize.args[:2]
    raw_names = value_of(names_node)
    names = [n.strip() for n in raw_names.split(",")] if isinstance(raw_names, str) else list(raw_names)
    verdict = next((n for n in ("expected", "result") if n in names), None)
    if not {"gold", "pred"} <= set(names) or verdict is None:
        return []
    call = call_of(test, function)
    cases = []
    for index, row in enumerate(rows_node.elts):
        values = dict(zip(names, [value_of(v) for v in row.elts], strict=True))
        cases.append(
            {
                "id": f"{test}[{index}]",
                "gold": values["gold"],
                "prediction": values["pred"],
                "equivalent": bool(values[verdict]),
                "math_verify_call": {k: values[v] if isinstance(v, Param) else v for k, v in call.items()},
            }
        )
    return cases


class Param(str):
    """A keyword of the call whose value is the test's parameter of this name."""


def call_of(test: str, function: ast.FunctionDef) -> dict:
    """How the test calls math-verify: the suite's compare_strings helper with its keywords, or plain
    `verify(parse(gold), parse(pred))` ({"parse": "default"})."""
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "compare_strings":
            call = {"match_types": DEFAULT_MATCH_TYPES, "precision": DEFAULT_PRECISION}
            for keyword in node.keywords:
                value = keyword.value
                call[keyword.arg] = Param(value.id) if isinstance(value, ast.Name) else value_of(value)
            return call
        if isinstance(node, ast.Call) and ast.unparse(node) == "verify(parse(gold), parse(pred))":
            return {"parse": "default"}
    raise ValueError(f"{test}: no compare_strings(...) or verify(parse(gold), parse(pred)) call to reproduce")


def value_of(node: ast.expr):
    """A literal, or an f-string of literals and math-module calls on literals (such as a 15-digit sqrt(17))."""
    if isinstance(node, ast.JoinedStr):
        return "".join(value_of(part) for part in node.values)
    if isinstance(node, ast.FormattedValue):
        spec = value_of(node.format_spec) if node.format_spec else ""
        return format(value_of(node.value), spec)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and ast.unparse(node.func.value) == "math":
        return getattr(math, node.func.attr)(*[value_of(arg) for arg in node.args])
    return ast.literal_eval(node)
