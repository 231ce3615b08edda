"""Each trick switch, flipped in a real (short) run on the tiny model, visibly takes effect in the metrics."""

from pathlib import Path

import pytest

from rlvr.config import compose
from rlvr.run import train
from rlvr.tracking import read_metrics
from tests.conftest import ROOT, tiny_overrides

STARTS_WITH_DIGIT = [f"reward.custom={ROOT}/tests/helpers/rewards.py:starts_with_digit", "reward=[]"]


def run(model_dir: Path, run_dir: Path, *extra: str) -> list[dict]:
    overrides = tiny_overrides(model_dir, run_dir, "eval.before_training=false", "eval.after_training=false", *extra)
    train(compose(overrides))
    return [r for r in read_metrics(run_dir / "metrics.jsonl") if "event" not in r]


@pytest.fixture(scope="module")
def token_mean_run(tiny_model_dir, tmp_path_factory):
    return run(tiny_model_dir, tmp_path_factory.mktemp("token_mean"), "algo.loss_agg=token_mean", "steps=1")


def test_seq_mean_token_mean_loss_is_zero_on_policy(tiny_model_dir, tmp_path):
    # on-policy the per-token loss is -A, a sequence's token mean is -A_i, and advantages sum to 0 per group
    metrics = run(tiny_model_dir, tmp_path, "algo.loss_agg=seq_mean_token_mean", "steps=1")
    assert abs(metrics[0]["learn/loss"]) < 1e-6


def test_dr_grpo_normaliser_rescales_the_token_mean_loss(tiny_model_dir, tmp_path, token_mean_run):
    # same seed, same first batch: sum(-A n_i) / tokens  vs  sum(-A n_i) / (B * max_tokens)
    metrics = run(tiny_model_dir, tmp_path, "algo.loss_agg=seq_mean_token_sum_norm", "steps=1")
    first, ref = metrics[0], token_mean_run[0]
    assert first["reward/mean"] == ref["reward/mean"]
    expected = ref["learn/loss"] * ref["learn/tokens"] / (16 * 24)  # 4 prompts x 4 rollouts, max_tokens 24
    assert first["learn/loss"] == pytest.approx(expected, rel=1e-4, abs=1e-7)


def test_no_std_normalisation_keeps_binary_advantages_within_one(tiny_model_dir, tmp_path):
    metrics = run(tiny_model_dir, tmp_path, "algo.adv_scale=none", *STARTS_WITH_DIGIT, "steps=2")
    assert all(m["adv/abs_max"] <= 1.0 for m in metrics)
    assert any(m["adv/abs_max"] > 0 for m in metrics)


def test_group_std_scales_advantages_beyond_one(tiny_model_dir, tmp_path):
    metrics = run(tiny_model_dir, tmp_path, "algo.adv_scale=group_std", *STARTS_WITH_DIGIT, "steps=2")
    # a group of 4 with one success has advantages [1.5, -.5, -.5, -.5]; with two, +-0.866
    assert any(m["adv/abs_max"] > 0.85 for m in metrics)


def test_gdpo_with_format_and_accuracy_rewards(tiny_model_dir, tmp_path):
    # the custom reward makes sure some groups vary, whatever the tiny model's accuracy
    metrics = run(tiny_model_dir, tmp_path, "algo.multi_reward=gdpo", "reward=[math,format]", STARTS_WITH_DIGIT[0])
    assert any(m["groups/constant_frac"] < 1.0 for m in metrics)
    for m in metrics:
        assert "reward/math/mean" in m and "reward/format/mean" in m and "reward/custom/mean" in m
        if m["groups/constant_frac"] < 1.0:  # GDPO ends with a batch normalisation: std 1
            assert m["adv/std"] == pytest.approx(1.0, abs=1e-3)


def test_zero_variance_skip_counts_skipped_groups(tiny_model_dir, tmp_path):
    metrics = run(tiny_model_dir, tmp_path, "algo.zero_variance=skip", "steps=2")
    assert sum(m["groups/skipped"] for m in metrics) > 0
    for m in metrics:
        assert m["groups/trained"] + m["groups/skipped"] == 4


def test_zero_variance_resample_draws_more_prompts(tiny_model_dir, tmp_path):
    metrics = run(tiny_model_dir, tmp_path, "algo.zero_variance=resample", "algo.max_resample_rounds=2", "steps=2")
    assert any(m["groups/rounds"] > 1 for m in metrics)
    assert all(m["groups/trained"] <= 4 for m in metrics)


def test_overlong_mask_removes_truncated_rollouts_from_the_loss(tiny_model_dir, tmp_path):
    # 2-token cap: most rollouts are cut off (2 tokens each, now without loss); the rest stopped at EOS
    extra = ("rollout.max_tokens=2", *STARTS_WITH_DIGIT, "steps=1")
    masked = run(tiny_model_dir, tmp_path / "mask", "algo.overlong=mask", *extra)[0]
    kept = run(tiny_model_dir, tmp_path / "none", "algo.overlong=none", *extra)[0]
    truncated = round(masked["rollout/truncated_frac"] * 16)
    assert truncated > 0
    assert kept["learn/tokens"] == masked["rollout/tokens"]
    assert masked["learn/tokens"] == masked["rollout/tokens"] - 2 * truncated
