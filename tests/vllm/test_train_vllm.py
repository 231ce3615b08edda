"""`rlvr train ... rollout=vllm` end to end on the tiny model: it learns like the HF run does."""

import json

import pytest

from tests.conftest import run_cli, tiny_overrides
from tests.vllm.conftest import VLLM

pytestmark = pytest.mark.vllm


def test_training_with_vllm_rollouts_learns(tiny_model_dir, tmp_path):
    overrides = tiny_overrides(
        tiny_model_dir, tmp_path, *VLLM, "steps=12", "prompts_per_step=8", "reward=[format]", "optim.lr=1e-3",
        "eval.before_training=false", "eval.after_training=false", "algo.tis_cap=2.0",
    )  # fmt: skip
    proc = run_cli("train", *overrides, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "reward/mean" in r]
    assert len(steps) == 12
    assert steps[0]["reward/mean"] < 0.3 and sum(r["reward/mean"] for r in steps[-3:]) / 3 > 0.6
    for r in steps:  # synced every step, engine and learner agree on the log-probs of what was sampled
        assert r["rollout/sync_mb"] > 0 and r["rollout/logprob_abs_diff"] < 1e-3


def test_missing_vllm_is_a_clear_error(tiny_model_dir, tmp_path, monkeypatch):
    import sys

    from rlvr.errors import MissingDependencyError
    from rlvr.rollout.vllm import require_vllm

    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(MissingDependencyError, match=r"rollout=vllm needs vLLM: pip install 'rlvr\[vllm\]'"):
        require_vllm()
