"""`rlvr eval` on a hub-style directory, an rlvr checkpoint and a LoRA adapter, greedy and sampled."""

import json
import re

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rewards.math import grade
from rlvr.data import BOOK_TEMPLATE
from tests.conftest import MATH500, ROOT, run_cli, tiny_overrides

EVAL = [f"eval.data.path={MATH500}", "eval.data.limit=6", "eval.max_tokens=16", "eval.data.id_key=unique_id"]


def evaluate(model_dir, run_dir, *extra):
    proc = run_cli("eval", f"model.path={model_dir}", f"data.path={model_dir}/train.jsonl", f"run_dir={run_dir}",
                   "tracking.wandb=disabled", *EVAL, *extra)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((run_dir / "eval.json").read_text()), proc.stdout


def completions(result):
    return [r["completion"] for r in result["records"]]


def greedy_completion(model, tokenizer, prompt: str, max_tokens: int) -> str:
    """A plain greedy loop: the argmax token, appended, until EOS or max_tokens (no cache, no padding)."""
    ids, out = tokenizer(prompt)["input_ids"], []
    with torch.no_grad():
        while len(out) < max_tokens and (not out or out[-1] != tokenizer.eos_token_id):
            out.append(int(model(torch.tensor([ids + out])).logits[0, -1].argmax()))
    return tokenizer.decode(out, skip_special_tokens=True)


def test_eval_of_a_model_directory(tiny_model_dir, tmp_path):
    # six held-out problems; the gold answer is the last number of the model's own greedy answer for rows
    # 0, 2, 3 and that number + 1 for rows 1, 4, 5: accuracy 1/2 whatever the model knows, if the harness
    # decodes greedily and grades what it decoded
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    problems = [json.loads(line)["problem"] for line in (tiny_model_dir / "heldout.jsonl").read_text().splitlines()]
    right = [True, False, True, True, False, False]
    rows, texts = [], []
    for i, (problem, is_right) in enumerate(zip(problems[:6], right, strict=True)):
        text = greedy_completion(model, tokenizer, BOOK_TEMPLATE.replace("{problem}", problem), max_tokens=24)
        number = int(re.findall(r"\d+", text)[-1])
        gold = str(number if is_right else number + 1)
        assert grade(text, gold, fallback_last_number=True) is is_right
        subject, level = ("arithmetic" if i < 4 else "words"), (1 if i < 3 else 2)
        rows.append({"problem": problem, "answer": gold, "subject": subject, "level": level, "unique_id": f"q{i}"})
        texts.append(text)
    data = tmp_path / "eval.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    overrides = (f"eval.data.path={data}", "eval.max_tokens=24", "eval.fallback_last_number=true")
    result, stdout = evaluate(tiny_model_dir, tmp_path / "run", *overrides)
    assert [r["completion"] for r in result["records"]] == texts
    assert [r["correct"] for r in result["records"]] == [[x] for x in right]
    assert result["n_problems"] == 6 and result["accuracy"] == 0.5
    assert result["by_subject"] == {"arithmetic": 3 / 4, "words": 0.0}
    assert result["by_level"] == {"1": 2 / 3, "2": 1 / 3}
    assert "accuracy (pass@1)" in stdout and "50.0%" in stdout and "subject arithmetic" in stdout


def test_sampled_eval_reports_pass_and_maj_at_k(tiny_model_dir, tmp_path):
    result, stdout = evaluate(tiny_model_dir, tmp_path, "eval.n=4", "eval.temperature=1.0")
    assert set(result["pass_at"]) == {"1", "2", "4"} and set(result["maj_at"]) == {"1", "2", "4"}
    assert result["n_samples"] == 24 and "pass@4" in stdout


@pytest.mark.slow
@pytest.mark.parametrize("lora", [False, True])
def test_eval_of_a_checkpoint_and_of_the_exported_model(tiny_model_dir, tmp_path, lora):
    # a reward with variance on the test model, and a learning rate that moves its greedy answers in 2 steps
    extra = ["reward=[]", f"reward.custom={ROOT}/tests/helpers/rewards.py:starts_with_digit", "optim.lr=3e-2"]
    extra += ["model.lora.rank=4", "optim.lora_lr=3e-2"] if lora else []
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


def test_eval_grades_with_the_configured_reward(tiny_model_dir, tmp_path):
    """eval.reward=<file.py:fn>: accuracy is the share of completions the function scores full marks, computed
    here from the logged completions by this test's own rule; math's lenient figure does not apply."""
    helper = tmp_path / "my_eval.py"
    helper.write_text("def says_result(completion, sample, **kw):\n    return float('result' in completion)\n")
    result, stdout = evaluate(tiny_model_dir, tmp_path / "run", f"eval.reward={helper}:says_result")
    texts = completions(result)
    by_hand = sum(1.0 if "result" in t else 0.0 for t in texts) / len(texts)
    assert 0 < by_hand < 1, texts  # the tiny model gives both kinds on these prompts
    assert result["accuracy"] == by_hand and result["lenient_accuracy"] is None
    assert "lenient" not in stdout
    assert result["no_answer"] == sum(not t.strip() for t in texts) / len(texts)  # the whole completion votes


def test_an_unknown_eval_reward_is_refused_before_any_model_loads(tiny_model_dir, tmp_path):
    proc = run_cli("eval", f"model.path={tiny_model_dir}", f"run_dir={tmp_path}", "tracking.wandb=disabled", *EVAL,
                   "eval.reward=no_such_reward")  # fmt: skip
    assert proc.returncode == 2 and "unknown reward function 'no_such_reward'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
