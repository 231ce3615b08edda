"""`rlvr eval` on a hub-style directory, an rlvr checkpoint and a LoRA adapter, greedy and sampled."""

import json

import pytest

from tests.conftest import MATH500, ROOT, run_cli, tiny_overrides

EVAL = [f"eval.data.path={MATH500}", "eval.data.limit=6", "eval.max_tokens=16", "eval.data.id_key=unique_id"]


def evaluate(model_dir, run_dir, *extra):
    proc = run_cli("eval", f"model.path={model_dir}", f"data.path={model_dir}/train.jsonl", f"run_dir={run_dir}",
                   "tracking.wandb=disabled", *EVAL, *extra)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((run_dir / "eval.json").read_text()), proc.stdout


def completions(result):
    return [r["completion"] for r in result["records"]]


def test_eval_of_a_model_directory(tiny_model_dir, tmp_path):
    result, stdout = evaluate(tiny_model_dir, tmp_path)
    assert result["n_problems"] == 6 and 0.0 <= result["accuracy"] <= 1.0
    assert result["by_subject"] and result["by_level"] and "no_answer" in result
    assert "accuracy (pass@1)" in stdout and "subject" in stdout


def test_sampled_eval_reports_pass_and_maj_at_k(tiny_model_dir, tmp_path):
    result, stdout = evaluate(tiny_model_dir, tmp_path, "eval.n=4", "eval.temperature=1.0")
    assert set(result["pass_at"]) == {"1", "2", "4"} and set(result["maj_at"]) == {"1", "2", "4"}
    assert result["n_samples"] == 24 and "pass@4" in stdout


@pytest.mark.parametrize("lora", [False, True])
def test_eval_of_a_checkpoint_and_of_the_exported_model(tiny_model_dir, tmp_path, lora):
    # a reward with variance on the test model, and a learning rate that moves its greedy answers in 2 steps
    extra = ["reward=[]", f"reward.custom={ROOT}/tests/helpers/rewards.py:starts_with_digit", "optim.lr=3e-2"]
    extra += ["model.lora.rank=4"] if lora else []
    train = run_cli("train", *tiny_overrides(tiny_model_dir, tmp_path / "run", "eval.before_training=false",
                                             "eval.after_training=false", *extra))  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    checkpoint = tmp_path / "run" / "checkpoints" / "step_000002"
    from_checkpoint, _ = evaluate(tiny_model_dir, tmp_path / "a", f"model.checkpoint={checkpoint}")
    exported = ("model.adapter=" if lora else "model.path=") + str(tmp_path / "run" / "model")
    overrides = [exported, f"model.tokenizer={tiny_model_dir}"] if not lora else [exported]
    from_export, _ = evaluate(tiny_model_dir, tmp_path / "b", *overrides)
    base, _ = evaluate(tiny_model_dir, tmp_path / "c")
    assert completions(from_checkpoint) == completions(from_export)  # the same trained weights, two routes
    assert completions(from_checkpoint) != completions(base)  # and they are not the base model's
