"""Collapse rules provoked for real on the tiny model: detected within patience, rolled back, recovered."""

import json

from rlvr.config import compose
from rlvr.run import train
from tests.conftest import ROOT, run_cli, tiny_overrides

HELPERS = f"{ROOT}/tests/helpers/rewards.py"


def overrides(model_dir, run_dir, *extra):
    return tiny_overrides(
        model_dir, run_dir, "steps=16", "prompts_per_step=8", "checkpoint.every=2", "optim.lr=1e-3",
        "rollout.max_tokens=32", "eval.before_training=false", "eval.after_training=false",
        "reward=[format]", *extra,
    )  # fmt: skip


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def rollbacks(run_dir):
    return [r for r in records(run_dir) if r.get("event") == "rollback"]


def steps_after_last_rollback(run_dir):
    rows = records(run_dir)
    last = max(i for i, r in enumerate(rows) if r.get("event") == "rollback")
    return [r for r in rows[last + 1 :] if "reward/mean" in r]


def test_healthy_run_never_rolls_back(tiny_model_dir, tmp_path):
    summary = train(compose(overrides(tiny_model_dir, tmp_path)))
    assert summary["rollbacks"] == 0 and rollbacks(tmp_path) == []
    assert (tmp_path / "model" / "model.safetensors").exists()
    # saved every 2 steps; the keep policy (newest 2 + the last good) deleted the rest
    kept = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert kept == ["step_000014", "step_000016"]


def test_injected_nan_is_rolled_back(tiny_model_dir, tmp_path):
    summary = train(compose(overrides(tiny_model_dir, tmp_path, "+fault.nan_at_step=7")))
    [event] = rollbacks(tmp_path)
    assert event["rule"] == "nan" and event["step"] == 7  # patience 1: the step it happened
    assert event["to_step"] == 4  # newest checkpoint with good_after=2 clean steps behind it at step 6
    assert summary["rollbacks"] == 1 and summary["steps"] == 16
    after = steps_after_last_rollback(tmp_path)
    assert [r["step"] for r in after] == list(range(5, 17))
    assert all(r["learn/nonfinite_grads"] == 0 for r in after)


def test_lr_spike_that_wrecks_the_model_is_rolled_back(tiny_model_dir, tmp_path):
    train(compose(overrides(tiny_model_dir, tmp_path, "+fault.lr_spike_at_step=8", "+fault.lr_spike_factor=3000")))
    events = rollbacks(tmp_path)
    assert events and events[0]["step"] in (8, 9, 10)  # within the patience of the rule that caught it
    assert events[0]["rule"] in ("kl_spike", "grad_norm_spike", "entropy_blowup", "entropy_collapse", "reward_drop")
    before = [r["reward/mean"] for r in records(tmp_path) if "reward/mean" in r and r["step"] in (5, 6, 7)][:3]
    after = [r["reward/mean"] for r in steps_after_last_rollback(tmp_path)][-3:]
    assert sum(after) / 3 >= 0.8 * sum(before) / 3  # the reward recovered to at least its pre-spike level
    assert events[0]["lr_scale"] == 0.5  # mitigation: half the learning rate from then on


def test_reward_that_starts_returning_zero_is_detected_and_recovered(tiny_model_dir, tmp_path):
    # 32 calls per step (8 prompts x 4): calls 192..351 are steps 7-11 of the first pass
    counter = tmp_path / "calls.txt"
    flaky = f"+reward.flaky={{fn: '{HELPERS}:flaky_after_calls', counter_file: '{counter}', start: 192, stop: 352}}"
    train(compose(overrides(tiny_model_dir, tmp_path, "reward=[]", flaky)))
    events = rollbacks(tmp_path)
    assert events and events[0]["rule"] == "reward_drop"
    # zero from step 7: the 3-step average falls below half its best by step 8 or 9, then patience 3
    assert events[0]["step"] <= 11
    healthy = [r["reward/mean"] for r in records(tmp_path) if "reward/mean" in r and r["step"] <= 6]
    after = [r["reward/mean"] for r in steps_after_last_rollback(tmp_path)]
    assert max(after) > 0 and sum(after[-3:]) / 3 >= 0.8 * sum(healthy[-3:]) / 3


def test_too_many_rollbacks_stop_with_a_clear_message(tiny_model_dir, tmp_path):
    counter = tmp_path / "calls.txt"
    broken = (
        f"+reward.flaky={{fn: '{HELPERS}:flaky_after_calls', counter_file: '{counter}', start: 192, stop: 1000000}}"
    )
    proc = run_cli("train", *overrides(tiny_model_dir, tmp_path, "reward=[]", broken, "monitor.max_rollbacks=1"))
    assert proc.returncode == 3
    [line] = [line for line in proc.stderr.splitlines() if line.startswith("stopped:")]
    assert "after 1 rollbacks" in line and "reward_drop" in line
    assert "Traceback" not in proc.stderr
