"""A reward function that raises, hangs or returns garbage scores 0, is counted, and training goes on; its first
failure is shown on the console and kept in summary.json. One that does nothing but time out stops the run."""

import json

import pytest

from rlvr.config import compose
from rlvr.run import train
from rlvr.tracking import read_metrics
from tests.conftest import ROOT, run_cli, tiny_overrides

HELPERS = f"{ROOT}/tests/helpers/rewards.py"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fn", "counter", "first"),
    [
        ("always_raises", "errors", "RuntimeError: this reward function is broken"),
        ("returns_nan", "errors", "TypeError: reward must be a finite number, got nan"),
        ("exits_worker", "errors", "ProcessExpired: Abnormal termination"),
        ("hangs", "timeouts", "TimeoutError: no result within 0.5 s (reward.broken.timeout_s)"),
    ],
)
def test_training_survives_a_broken_reward_function(tiny_model_dir, tmp_path, capsys, fn, counter, first):
    overrides = tiny_overrides(
        tiny_model_dir,
        tmp_path,
        f"+reward.broken={{fn: '{HELPERS}:{fn}', timeout_s: 0.5}}",
        "eval.before_training=false",
        "eval.after_training=false",
    )
    summary = train(compose(overrides))
    assert summary["steps"] == 2
    metrics = [m for m in read_metrics(tmp_path / "metrics.jsonl") if "reward/mean" in m]
    for m in metrics:
        assert m[f"reward/broken/{counter}"] == 16  # every rollout of the step (4 prompts x 4)
        assert m["reward/broken/mean"] == 0.0
        assert m["reward/math/errors"] == 0  # the healthy function is unaffected
    # the first failure on the console, once (the console wraps long lines at its width: compare words)
    console = " ".join(capsys.readouterr().err.split())
    assert console.count("reward.broken:") == 1
    assert f"reward.broken: {HELPERS}:{fn} failed at step 1 and scored 0: {first}" in console
    # and in summary.json, with the run's totals (2 steps x 16 rollouts)
    written = json.loads((tmp_path / "summary.json").read_text())
    totals = {"errors": 32, "timeouts": 0} if counter == "errors" else {"errors": 0, "timeouts": 32}
    assert written["reward_errors"] == {"broken": {**totals, "first": first, "step": 1}}


def test_a_function_that_only_times_out_stops_the_run(tiny_model_dir, tmp_path):
    """Every step, each call of `hang` that gets a worker runs into its 0.2 s limit and the 2 s scoring deadline
    cancels the rest; after 2 such steps the run stops with one line naming the function (exit code 2)."""
    overrides = tiny_overrides(
        tiny_model_dir,
        tmp_path,
        f"+reward.hang={{fn: '{HELPERS}:hangs', timeout_s: 0.2}}",
        "reward_step_timeout_s=2",
        "reward_max_timeout_steps=2",
        "steps=4",
        "eval.before_training=false",
        "eval.after_training=false",
        "checkpoint.save_final=false",
    )
    proc = run_cli("train", *overrides)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"error: reward.hang: every call of {HELPERS}:hangs that ran timed out"), errors[0]
    assert "2 steps in a row" in errors[0]
    trained = [m["step"] for m in read_metrics(tmp_path / "metrics.jsonl") if "reward/mean" in m]
    assert trained == [1]  # step 2 was the second in a row: it stopped before logging it


def test_code_reward_without_bwrap_refuses_at_startup(tiny_model_dir, tmp_path, monkeypatch):
    from rewards import sandbox
    from rewards.registry import RewardConfigError

    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    overrides = tiny_overrides(tiny_model_dir, tmp_path, "reward=[code]", "data.tests_key=answer")
    with pytest.raises(RewardConfigError, match="allow_unsandboxed"):
        train(compose(overrides))
