"""The Qwen3-0.6B-Base code recipe (MBPP), run end to end without the hub on a randomly initialised model with
the real architecture: the recipe's data wiring, the sandboxed code reward and code evaluation, two steps. A
file of its own so that it runs beside the MATH-500 recipes' file, not after it."""

import json

import pytest

from rlvr.tiny import qwen3_shape
from tests.conftest import require, run_cli

pytestmark = pytest.mark.slow


# Three MBPP-style rows written here (task id, text, assert tests), in the hub dataset's own field names.
MBPP_ROWS = [
    {"task_id": 901, "text": "Write a function to add two numbers.",
     "test_list": ["assert add_two(1, 2) == 3", "assert add_two(0, 0) == 0", "assert add_two(-1, 5) == 4"]},
    {"task_id": 902, "text": "Write a function to reverse a string.",
     "test_list": ["assert reverse_text('ab') == 'ba'", "assert reverse_text('') == ''",
                   "assert reverse_text('x') == 'x'"]},
    {"task_id": 903, "text": "Write a function to find the largest item of a list.",
     "test_list": ["assert largest([1, 3, 2]) == 3", "assert largest([5]) == 5", "assert largest([-2, -7]) == -2"]},
]  # fmt: skip


def test_code_recipe_on_the_real_architecture(tiny_model_dir, tmp_path):
    """experiment=qwen3_code, its data wiring (MBPP's field names, a test shown in the prompt), the sandboxed
    code reward and code evaluation, on a random-init model of Qwen3-0.6B-Base's shape (HF rollouts, float32;
    monitor off, so no 2.9 GB step-0 rollback checkpoint is written)."""
    from rewards import sandbox

    require("bwrap", sandbox.bwrap_path() is not None, "apt-get install bubblewrap")
    shape = qwen3_shape.write(tmp_path / "qwen3-0.6b-shape", tiny_model_dir)
    data = tmp_path / "mbpp.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in MBPP_ROWS))
    run_dir = tmp_path / "run"
    proc = run_cli("train", "experiment=qwen3_code", "rollout=hf", f"model.path={shape}", "model.from_config=true",
                   f"run_dir={run_dir}", "model.dtype=float32", f"data.path={data}", f"eval.data.path={data}",
                   "eval.max_tokens=8", "rollout.max_tokens=8", "steps=2", "prompts_per_step=1",
                   "rollout.group_size=2", "optim.micro_batch_size=2", "checkpoint.every=0",
                   "eval.after_training=false", "checkpoint.save_final=false", "monitor.enabled=false",
                   "reward_workers=1",
                   "tracking.wandb=disabled", "tracking.progress=false", timeout=1200)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["accuracy_before"] == 0.0  # random weights write no passing code
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 1 * 2 and all(r["reward_infos"]["code"]["total"] == 3 for r in rows)
    config = (run_dir / "config.yaml").read_text()
    assert "tests_key: test_list" in config and "reward: code_pass_rate" in config
