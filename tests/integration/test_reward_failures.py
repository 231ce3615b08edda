"""A reward function that raises, hangs or returns garbage scores 0, is counted, and training goes on."""

import pytest

from rlvr.config import compose
from rlvr.run import train
from rlvr.tracking import read_metrics
from tests.conftest import ROOT, tiny_overrides

HELPERS = f"{ROOT}/tests/helpers/rewards.py"


@pytest.mark.parametrize(
    ("fn", "counter"),
    [("always_raises", "errors"), ("returns_nan", "errors"), ("exits_worker", "errors"), ("hangs", "timeouts")],
)
def test_training_survives_a_broken_reward_function(tiny_model_dir, tmp_path, fn, counter):
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


def test_code_reward_without_bwrap_refuses_at_startup(tiny_model_dir, tmp_path, monkeypatch):
    from rewards import sandbox
    from rewards.registry import RewardConfigError

    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    overrides = tiny_overrides(tiny_model_dir, tmp_path, "reward=[code]", "data.tests_key=answer")
    with pytest.raises(RewardConfigError, match="allow_unsandboxed"):
        train(compose(overrides))
