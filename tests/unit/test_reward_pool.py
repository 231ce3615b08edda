"""The reward API: references resolve, specs parse, and a broken reward function never stops scoring."""

import time

import pytest

from rewards.pool import RewardPool, RewardSpec, call_reward, specs_from_config
from rewards.registry import RewardConfigError, resolve
from tests.conftest import ROOT

HELPERS = f"{ROOT}/tests/helpers/rewards.py"


def test_resolve_builtin_module_and_file():
    assert resolve("math_accuracy").__name__ == "math_accuracy"
    assert resolve("rewards.format:boxed_format").__name__ == "boxed_format"
    assert resolve("rewards.format.tag_count").__name__ == "tag_count"
    assert resolve(f"{HELPERS}:digit_fraction")("12ab", {}) == 0.5


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nonsense", "unknown reward function"),
        ("/no/such/file.py:fn", "reward file not found"),
        (f"{HELPERS}:missing", "no callable 'missing'"),
        ("no_such_module:fn", "cannot import reward module"),
    ],
)
def test_bad_references_are_config_errors(ref, message):
    with pytest.raises(RewardConfigError, match=message):
        resolve(ref)


def test_specs_from_config():
    specs = specs_from_config(
        {
            "math": {"fn": "math_accuracy", "weight": 2.0},
            "custom": f"{HELPERS}:with_info",
            "off": None,
            "bonus": {"fn": f"{HELPERS}:with_info", "bonus": 0.25, "timeout_s": 3},
        }
    )
    assert [(s.name, s.weight) for s in specs] == [("math", 2.0), ("custom", 1.0), ("bonus", 1.0)]
    assert specs[2].kwargs == {"bonus": 0.25} and specs[2].timeout_s == 3.0
    with pytest.raises(RewardConfigError, match="no reward function"):
        specs_from_config({"custom": None})
    with pytest.raises(RewardConfigError, match="timeout_s"):
        specs_from_config({"m": {"fn": "math_accuracy", "timeout_s": 0}})


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"weight": "abc"}, "reward.m.weight must be a number, got 'abc'"),
        ({"weight": "nan"}, "reward.m.weight must be a finite number, got 'nan'"),
        ({"weight": True}, "reward.m.weight must be a number, got True"),
        ({"timeout_s": "soon"}, "reward.m.timeout_s must be a number, got 'soon'"),
        ({"timeout_s": [1]}, r"reward.m.timeout_s must be a number, got \[1\]"),
        ({"timeout_s": "inf"}, "reward.m.timeout_s must be a finite number, got 'inf'"),
    ],
)
def test_a_weight_or_timeout_that_is_not_a_number_is_a_config_error(entry, message):
    with pytest.raises(RewardConfigError, match=message):
        specs_from_config({"m": {"fn": "math_accuracy", **entry}})


def test_numbers_given_as_text_are_read():
    """Hydra passes `reward.m.weight=0.5` from the command line into the free-form `reward` mapping as 0.5,
    but a recipe may quote it; both read as the number."""
    (spec,) = specs_from_config({"m": {"fn": "math_accuracy", "weight": "0.5", "timeout_s": "2"}})
    assert (spec.weight, spec.timeout_s) == (0.5, 2.0)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("np.float32", 0.5),
        ("np.float16", 0.5),
        ("np.int64", 1.0),
        ("np.bool_", 1.0),
        ("np.0d_array", 0.5),
        ("fraction", 0.5),
        ("decimal", 0.5),
        ("torch_scalar", 0.5),
    ],
)
def test_any_real_number_is_a_reward(kind, expected):
    """numpy and torch scalars are what reward code built on those libraries returns; they score as floats."""
    value, info = call_reward(f"{HELPERS}:returns", "", {}, {"kind": kind})
    assert value == expected and type(value) is float and info == {"kind": kind}


@pytest.mark.parametrize(
    "kind", ["np.float32_nan", "np.float64_inf", "str", "bytes", "none", "list", "complex", "torch_vector"]
)
def test_anything_but_one_finite_number_is_an_error(kind):
    with pytest.raises(TypeError, match="reward must be a finite number"):
        call_reward(f"{HELPERS}:returns", "", {}, {"kind": kind})


@pytest.mark.parametrize(
    ("fn", "kwargs", "problem"),
    [
        ("completion_only", {}, "too many positional arguments"),
        ("no_keywords", {"bonus": 0.25}, "got an unexpected keyword argument 'bonus'"),
        ("needs_threshold", {}, "missing a required argument: 'threshold'"),
    ],
)
def test_a_function_that_cannot_be_called_as_a_reward_is_refused_before_scoring(fn, kwargs, problem):
    with pytest.raises(RewardConfigError) as caught:
        RewardPool([RewardSpec("mine", f"{HELPERS}:{fn}", kwargs=kwargs)], workers=1)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"reward.mine: {HELPERS}:{fn} cannot be called as fn(completion, sample")
    assert message.endswith(problem)


def test_the_configured_keywords_make_a_signature_fit():
    with RewardPool([RewardSpec("mine", f"{HELPERS}:needs_threshold", kwargs={"threshold": 1})], workers=1) as p:
        assert p.score(["ab", "a"], [{}, {}]).rewards == [[1.0], [0.0]]


@pytest.fixture(scope="module")
def pool():
    specs = [
        RewardSpec("math", "math_accuracy"),
        RewardSpec("bonus", f"{HELPERS}:with_info", kwargs={"bonus": 0.25}),
    ]
    with RewardPool(specs, workers=2) as p:
        yield p


def test_scores_and_infos(pool):
    result = pool.score(["so \\boxed{4}", "\\boxed{5}"], [{"answer": "4"}, {"answer": "4"}])
    assert result.rewards == [[1.0, 0.75], [0.0, 0.75]]
    assert result.infos[0][1] == {"length": len("so \\boxed{4}")}
    assert result.errors == {"math": 0, "bonus": 0}


@pytest.mark.parametrize("fn", ["always_raises", "returns_nan", "returns_text", "exits_worker"])
def test_a_broken_function_scores_zero_and_is_counted(pool, fn):
    broken = [RewardSpec("broken", f"{HELPERS}:{fn}"), RewardSpec("math", "math_accuracy")]
    result = pool.score(["\\boxed{4}"] * 3, [{"answer": "4"}] * 3, specs=broken)
    assert result.rewards == [[0.0, 1.0]] * 3
    assert result.errors["broken"] == 3 and result.timeouts["broken"] == 0
    assert result.error_examples["broken"]


def test_numpy_scalars_score_through_the_pool(pool):
    kinds = ["np.float32", "np.int64", "np.bool_"]
    specs = [RewardSpec(kind, f"{HELPERS}:returns", kwargs={"kind": kind}) for kind in kinds]
    result = pool.score(["a", "b"], [{}, {}], specs=specs)
    assert result.rewards == [[0.5, 1.0, 1.0]] * 2
    assert result.errors == dict.fromkeys(kinds, 0)


def test_a_hanging_function_times_out_and_the_pool_recovers(pool):
    hanging = [RewardSpec("hang", f"{HELPERS}:hangs", timeout_s=0.5)]
    start = time.monotonic()
    result = pool.score(["a", "b"], [{}, {}], specs=hanging)
    assert result.rewards == [[0.0], [0.0]] and result.timeouts["hang"] == 2
    assert time.monotonic() - start < 10
    assert pool.score(["\\boxed{4}"], [{"answer": "4"}]).rewards == [[1.0, 0.75]]


def test_rewards_import_without_torch():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None\n"  # any `import torch` now raises ImportError
        "import rewards.math, rewards.symbolic, rewards.code, rewards.sandbox, rewards.format, rewards.pool\n"
        "assert rewards.math.grade('\\\\boxed{\\\\frac{1}{2}}', '0.5')\n"
        "assert rewards.math.grade('\\\\boxed{2\\\\sqrt{5}}', '\\\\sqrt{20}')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
