"""RL moves the tiny model: GRPO on a format reward raises it from rare to usual within a dozen steps."""

from rlvr.config import compose
from rlvr.run import train
from rlvr.tracking import read_metrics
from tests.conftest import tiny_overrides


def test_grpo_teaches_the_tiny_model_to_box_its_answer(tiny_model_dir, tmp_path):
    overrides = tiny_overrides(
        tiny_model_dir,
        tmp_path,
        "steps=12",
        "prompts_per_step=8",
        "reward=[format]",
        "optim.lr=1e-3",
        "eval.before_training=false",
        "eval.after_training=false",
    )
    train(compose(overrides))
    rewards = [r["reward/mean"] for r in read_metrics(tmp_path / "metrics.jsonl") if "reward/mean" in r]
    assert len(rewards) == 12
    assert rewards[0] < 0.3  # the base model boxes its answer only sometimes
    assert sum(rewards[-3:]) / 3 > 0.6  # after 12 steps it does so most of the time
