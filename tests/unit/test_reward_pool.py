"""The reward API: references resolve, specs parse, and a broken reward function never stops scoring."""

import os
import time

import pytest

from rewards.pool import (
    RewardHangError,
    RewardPool,
    RewardSpec,
    RewardWatch,
    ScoreResult,
    call_reward,
    specs_from_config,
)
from rewards.registry import RewardConfigError, resolve
from tests.conftest import ROOT, importable, require

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


def test_parsing_a_recipe_already_checks_references_and_signatures():
    """`specs_from_config` runs first thing in a run, before any model loads: a reward entry that cannot work
    fails there, not after minutes of model loading and engine start."""
    with pytest.raises(RewardConfigError, match=r"reward\.mine: .*too many positional arguments"):
        specs_from_config({"mine": {"fn": f"{HELPERS}:completion_only"}})
    with pytest.raises(RewardConfigError, match="unexpected keyword argument 'bonus'"):
        specs_from_config({"mine": {"fn": f"{HELPERS}:no_keywords", "bonus": 1}})
    with pytest.raises(RewardConfigError, match="unknown reward function"):
        specs_from_config({"mine": "nonsense"})


def test_the_configured_keywords_make_a_signature_fit():
    with RewardPool([RewardSpec("mine", f"{HELPERS}:needs_threshold", kwargs={"threshold": 1})], workers=1) as p:
        assert p.score(["ab", "a"], [{}, {}]).rewards == [[1.0], [0.0]]


@pytest.fixture(scope="module", params=["processes", "ray"])
def pool(request):
    """Every test below runs on both: worker processes on this machine, and Ray actors (cluster=ray; a private
    two-CPU Ray instance in this process)."""
    specs = [
        RewardSpec("math", "math_accuracy"),
        RewardSpec("bonus", f"{HELPERS}:with_info", kwargs={"bonus": 0.25}),
    ]
    on_ray = request.param == "ray"
    if on_ray:
        require("ray", importable("ray"), "pip install 'rlvr[ray]'")
        import ray

        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        with RewardPool(specs, workers=2, on_ray=on_ray) as p:
            yield p
    finally:
        if on_ray:
            ray.shutdown()


def test_scores_and_infos(pool):
    result = pool.score(["so \\boxed{4}", "\\boxed{5}"], [{"answer": "4"}, {"answer": "4"}])
    assert result.rewards == [[1.0, 0.75], [0.0, 0.75]]
    assert result.infos[0][1] == {"length": len("so \\boxed{4}")}
    assert result.errors == {"math": 0, "bonus": 0}
    assert result.finished == {"math": 2, "bonus": 2} and result.hung == {"math": 0, "bonus": 0}


@pytest.mark.parametrize("fn", ["always_raises", "returns_nan", "returns_text", "exits_worker"])
def test_a_broken_function_scores_zero_and_is_counted(pool, fn):
    broken = [RewardSpec("broken", f"{HELPERS}:{fn}"), RewardSpec("math", "math_accuracy")]
    result = pool.score(["\\boxed{4}"] * 3, [{"answer": "4"}] * 3, specs=broken)
    assert result.rewards == [[0.0, 1.0]] * 3
    assert result.errors["broken"] == 3 and result.timeouts["broken"] == 0
    assert result.finished["broken"] == 3  # it failed, but it did not hang
    failure = result.first_failure["broken"].split(":")[0]
    assert failure in ("RuntimeError", "TypeError", "ProcessExpired", "ActorDiedError")  # Ray: the last


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
    assert result.hung["hang"] == 2 and result.finished["hang"] == 0  # both ran to their own limit
    assert result.first_failure["hang"] == "TimeoutError: no result within 0.5 s (reward.hang.timeout_s)"
    assert time.monotonic() - start < 10
    assert pool.score(["\\boxed{4}"], [{"answer": "4"}]).rewards == [[1.0, 0.75]]


def test_the_scoring_deadline_cancels_every_unfinished_call_and_kills_its_worker(pool, tmp_path):
    """4 calls of a function that hangs with a 60 s limit: without a deadline they would hold the pool for
    minutes. With a 1 s deadline each scores 0 as a timeout, the workers running them are killed (no process
    keeps spinning), and the pool scores correctly right after."""
    hanging = [RewardSpec("hang", f"{HELPERS}:hangs_noting_pid", timeout_s=60, kwargs={"pid_dir": str(tmp_path)})]
    start = time.monotonic()
    result = pool.score(["a", "b", "c", "d"], [{}] * 4, specs=hanging, deadline_s=1.0)
    assert time.monotonic() - start < 30
    assert result.rewards == [[0.0]] * 4
    assert result.timeouts == {"hang": 4} and result.errors == {"hang": 0} and result.finished == {"hang": 0}
    assert 1 <= result.hung["hang"] <= 2  # only calls that had started (at most one per worker) are evidence
    assert (
        result.first_failure["hang"]
        == "TimeoutError: still running at the step's scoring deadline (reward_step_timeout_s)"
    )
    pids = [int(p.name) for p in tmp_path.iterdir()]
    assert 1 <= len(pids) <= 2
    assert all(wait_until_dead(pid) for pid in pids)
    assert pool.score(["\\boxed{4}"] * 3, [{"answer": "4"}] * 3).rewards == [[1.0, 0.75]] * 3


def wait_until_dead(pid: int, limit_s: float = 10.0) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_call_the_deadline_caught_before_it_started_says_nothing_about_its_function():
    """One worker: the hanging call holds it until the deadline, so the healthy function's call never starts.
    Both count as timeouts, but only the hanging function has evidence against it."""
    specs = [RewardSpec("hang", f"{HELPERS}:hangs", timeout_s=60), RewardSpec("ok", "boxed_format")]
    with RewardPool(specs, workers=1) as one_worker:
        result = one_worker.score(["\\boxed{4}"], [{}], deadline_s=1.0)
    assert result.rewards == [[0.0, 0.0]]
    assert result.timeouts == {"hang": 1, "ok": 1} and result.finished == {"hang": 0, "ok": 0}
    assert result.hung["ok"] == 0 and result.hung["hang"] <= 1
    assert result.first_failure["ok"] == (
        "TimeoutError: not started by the step's scoring deadline (reward_step_timeout_s): other calls held the workers"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("reward_step_timeout_s=-1", "reward_step_timeout_s must be a number >= 0"),
        ("reward_step_timeout_s=inf", "reward_step_timeout_s must be a number >= 0"),
        ("reward_max_timeout_steps=-1", "reward_max_timeout_steps must be >= 0"),
    ],
)
def test_the_scoring_limits_are_validated(override, message):
    from rlvr.config import compose
    from rlvr.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        compose(["experiment=tiny", override])


# ---- the watch over a run: first failures, and the stop when a function only times out ------------------
def scored(**outcomes: tuple[int, int, int, int]) -> ScoreResult:
    """A ScoreResult by hand: name=(finished, errors, timeouts, hung); hung <= timeouts."""
    names = list(outcomes)
    return ScoreResult(
        rewards=[],
        infos=[],
        finished={n: outcomes[n][0] for n in names},
        errors={n: outcomes[n][1] for n in names},
        timeouts={n: outcomes[n][2] for n in names},
        hung={n: outcomes[n][3] for n in names},
        first_failure={n: f"Failure of {n}" for n in names if outcomes[n][1] or outcomes[n][2]},
    )


WATCHED = [RewardSpec("hang", f"{HELPERS}:hangs", timeout_s=0.2), RewardSpec("ok", "boxed_format")]


def test_the_run_stops_after_n_steps_in_a_row_in_which_a_function_only_timed_out():
    watch = RewardWatch(WATCHED, max_timeout_steps=3)
    for step in (1, 2):
        watch.record(step, scored(hang=(0, 0, 16, 2), ok=(16, 0, 0, 0)))
        watch.raise_if_hung()
    watch.record(3, scored(hang=(0, 0, 16, 2), ok=(16, 0, 0, 0)))
    with pytest.raises(RewardHangError) as caught:
        watch.raise_if_hung()
    assert isinstance(caught.value, RewardConfigError)  # the CLI's one-line error, exit code 2
    message = str(caught.value)
    assert "\n" not in message and message.startswith("reward.hang: ")
    assert f"{HELPERS}:hangs" in message and "3 steps in a row" in message and "reward.hang.timeout_s=0.2" in message
    assert "reward.ok" not in message


def test_a_finished_call_resets_the_count():
    watch = RewardWatch(WATCHED, max_timeout_steps=2)
    watch.record(1, scored(hang=(0, 0, 4, 1)))
    watch.record(2, scored(hang=(1, 0, 3, 1)))  # one call came back: the function is alive
    watch.record(3, scored(hang=(0, 0, 4, 1)))
    watch.raise_if_hung()
    watch.record(4, scored(hang=(0, 0, 4, 1)))
    with pytest.raises(RewardHangError, match=r"reward\.hang: .*, 2 steps in a row"):
        watch.raise_if_hung()


def test_resampling_rounds_of_one_step_count_once():
    watch = RewardWatch(WATCHED, max_timeout_steps=2)
    for _ in range(3):  # algo.zero_variance=resample: several scoring rounds in step 1
        watch.record(1, scored(hang=(0, 0, 4, 1)))
    watch.raise_if_hung()
    watch.record(2, scored(hang=(0, 0, 4, 1)))
    with pytest.raises(RewardHangError):
        watch.raise_if_hung()


def test_a_step_in_which_a_call_finished_is_not_a_timeout_step():
    watch = RewardWatch(WATCHED, max_timeout_steps=1)
    watch.record(1, scored(hang=(2, 0, 0, 0)))
    watch.record(1, scored(hang=(0, 0, 4, 1)))  # a later round of the same step
    watch.raise_if_hung()


def test_calls_that_never_started_neither_count_nor_reset():
    watch = RewardWatch(WATCHED, max_timeout_steps=2)
    watch.record(1, scored(hang=(0, 0, 4, 1)))
    watch.record(2, scored(hang=(0, 0, 4, 0)))  # all cancelled before they started: no evidence either way
    watch.raise_if_hung()
    watch.record(3, scored(hang=(0, 0, 4, 1)))
    with pytest.raises(RewardHangError):
        watch.raise_if_hung()


def test_zero_never_stops():
    watch = RewardWatch(WATCHED, max_timeout_steps=0)
    for step in range(1, 20):
        watch.record(step, scored(hang=(0, 0, 4, 4)))
        watch.raise_if_hung()


def test_each_function_is_reported_once_and_its_failures_are_totalled():
    watch = RewardWatch(WATCHED, max_timeout_steps=0)
    assert watch.record(1, scored(hang=(16, 0, 0, 0), ok=(16, 0, 0, 0))) == []
    assert watch.record(2, scored(hang=(15, 0, 1, 1), ok=(13, 3, 0, 0))) == ["hang", "ok"]
    assert watch.record(3, scored(hang=(14, 0, 2, 2), ok=(16, 1, 0, 0))) == []
    expected = {
        "hang": {"errors": 0, "timeouts": 3, "first": "Failure of hang", "step": 2},
        "ok": {"errors": 4, "timeouts": 0, "first": "Failure of ok", "step": 2},
    }
    assert watch.summary() == expected
    resumed = RewardWatch(WATCHED, max_timeout_steps=0)
    resumed.load(expected)  # a resumed run keeps the totals and does not announce them again
    assert resumed.record(4, scored(hang=(15, 0, 1, 1), ok=(16, 0, 0, 0))) == []
    assert resumed.summary()["hang"] == {"errors": 0, "timeouts": 4, "first": "Failure of hang", "step": 2}


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


def test_a_reward_file_is_named_by_its_absolute_path(tmp_path, monkeypatch):
    """Calls may run in another working directory (Ray actors, other nodes): a relative `file.py:fn` is made
    absolute when the recipe is read; module references and built-in names are left alone."""
    (tmp_path / "mine.py").write_text("def fn(completion, sample):\n    return 1.0\n")
    monkeypatch.chdir(tmp_path)
    assert RewardSpec.from_entry("a", "mine.py:fn").fn == f"{tmp_path / 'mine.py'}:fn"
    assert RewardSpec.from_entry("b", {"fn": "mine.py:fn", "weight": 2}).fn == f"{tmp_path / 'mine.py'}:fn"
    assert RewardSpec.from_entry("c", "rewards.format:boxed_format").fn == "rewards.format:boxed_format"
    assert RewardSpec.from_entry("math", {"weight": 1}).fn == "math"
