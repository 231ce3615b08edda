"""Loading, validation and templates of prompt datasets; the resumable sampler."""

import json

import pytest

from rlvr.config import DataConfig
from rlvr.data import BOOK_TEMPLATE, PromptSampler, load_rows, load_samples, make_renderer
from rlvr.errors import DataError
from rlvr.types import Sample

ROWS = [
    {"problem": "What is $\\frac{1}{2}+\\frac{1}{2}$?", "answer": "1", "level": 2},
    {"problem": "2+2?", "answer": "4"},
]


def write(path, rows, fmt):
    if fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    elif fmt == "json":
        path.write_text(json.dumps(rows))
    elif fmt == "json_data":
        path.write_text(json.dumps({"data": rows}))
    elif fmt == "parquet":
        import pandas as pd

        pd.DataFrame(rows).to_parquet(path)
    return path


@pytest.mark.parametrize(
    ("fmt", "suffix"), [("jsonl", ".jsonl"), ("json", ".json"), ("json_data", ".json"), ("parquet", ".parquet")]
)
def test_local_formats(tmp_path, fmt, suffix):
    path = write(tmp_path / f"rows{suffix}", ROWS, fmt)
    samples = load_samples(DataConfig(path=str(path), template="raw"))
    assert [s.answer for s in samples] == ["1", "4"]
    assert samples[0].prompt == ROWS[0]["problem"]


def test_math500_loads_with_metadata():
    from tests.conftest import MATH500

    samples = load_samples(DataConfig(path=str(MATH500), id_key="unique_id"))
    assert len(samples) == 500
    assert samples[0].id == "test/precalculus/807.json"
    assert samples[0].metadata["subject"] == "Precalculus" and samples[0].metadata["level"] == 2


def test_book_template_keeps_latex_braces():
    render = make_renderer("book")
    prompt = render(ROWS[0]["problem"])
    assert prompt == BOOK_TEMPLATE.replace("{problem}", ROWS[0]["problem"])
    assert "\\frac{1}{2}" in prompt and prompt.endswith("\n\nAnswer:") and "\\boxed{ANSWER}" in prompt


def test_custom_and_invalid_templates():
    assert make_renderer("Q: {problem}\nA:")("x") == "Q: x\nA:"
    with pytest.raises(DataError, match="template"):
        make_renderer("no placeholder")


def test_chat_template_uses_the_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompt = make_renderer("chat", tokenizer, "Be brief.")("2+2?")
    assert (
        prompt == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
    )
    with pytest.raises(DataError, match="chat template"):
        make_renderer("chat", None)


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_rows(str(tmp_path / "missing.jsonl"))
    with pytest.raises(DataError, match="row 1 has no field 'answer'"):
        load_samples(DataConfig(path=str(write(tmp_path / "a.jsonl", [ROWS[0], {"problem": "x"}], "jsonl"))))
    with pytest.raises(DataError, match="empty"):
        load_samples(DataConfig(path=str(write(tmp_path / "e.jsonl", [], "jsonl"))))
    (tmp_path / "bad.json").write_text("[{")
    with pytest.raises(DataError, match="not valid JSON"):
        load_rows(str(tmp_path / "bad.json"))
    (tmp_path / "obj.json").write_text('{"a": 1}')
    with pytest.raises(DataError, match="list of rows"):
        load_rows(str(tmp_path / "obj.json"))


def test_unreachable_hub_dataset_is_a_data_error():
    with pytest.raises(DataError, match="could not load dataset 'no-such-org/no-such-dataset'"):
        load_rows("no-such-org/no-such-dataset")


def test_sampler_resumes_the_exact_stream():
    samples = [Sample(id=str(i), prompt=str(i)) for i in range(7)]
    straight = PromptSampler(samples, shuffle=True, seed=3)
    first = [s.id for s in straight.take(10)]  # crosses an epoch boundary
    rest = [s.id for s in straight.take(6)]
    resumed = PromptSampler(samples, shuffle=True, seed=3)
    resumed.take(10)
    state = resumed.state_dict()
    fresh = PromptSampler(samples, shuffle=True, seed=3)
    fresh.load_state_dict(state)
    assert [s.id for s in fresh.take(6)] == rest
    assert sorted(first[:7]) == sorted(str(i) for i in range(7))  # an epoch visits every sample once


def test_unshuffled_sampler_keeps_file_order():
    samples = [Sample(id=str(i), prompt=str(i)) for i in range(3)]
    assert [s.id for s in PromptSampler(samples, shuffle=False, seed=0).take(5)] == ["0", "1", "2", "0", "1"]


def test_remapped_keys_win_over_a_decoy_column(tmp_path):
    # the row has its own `answer` and `prompt` columns; the recipe says the gold is `final`, the problem `q`
    path = tmp_path / "rows.jsonl"
    row = {"q": "What is 2 + 3?", "final": "5", "answer": "7", "prompt": "decoy prompt", "level": 2}
    path.write_text(json.dumps(row) + "\n")
    [sample] = load_samples(DataConfig(path=str(path), problem_key="q", answer_key="final", template="raw"))
    seen = sample.for_reward()
    assert seen["answer"] == "5" and seen["prompt"] == "What is 2 + 3?"
    assert seen["level"] == 2  # the other columns still reach the reward function
    from rewards.math import math_accuracy

    assert math_accuracy("so \\boxed{5}", seen) == 1.0


class WordTokenizer:
    """One token per word: prompt lengths known by construction."""

    bos_token = None

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": list(range(len(text.split())))}


def test_max_prompt_tokens_leaves_out_longer_prompts_and_says_how_many(capsys):
    from rlvr.run import _drop_long_prompts

    samples = [Sample(id=str(n), prompt=" ".join(["w"] * n), answer="1") for n in (3, 9, 5, 6, 12)]
    kept = _drop_long_prompts(DataConfig(path="rows.jsonl", max_prompt_tokens=6), WordTokenizer(), samples, "data")
    assert [s.id for s in kept] == ["3", "5", "6"]  # a prompt of exactly the limit stays
    assert "left out 2 of 5 prompts longer than 6 tokens" in capsys.readouterr().err
    assert _drop_long_prompts(DataConfig(path="rows.jsonl"), WordTokenizer(), samples, "data") == samples


def test_mbpp_style_rows_show_their_first_test_in_the_prompt(tmp_path):
    rows = [{"task_id": 7, "text": "Add two numbers.", "test_list": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]}]
    path = write(tmp_path / "mbpp.jsonl", rows, "jsonl")
    config = dict(path=str(path), problem_key="text", answer_key=None, tests_key="test_list", id_key="task_id")
    sample = load_samples(DataConfig(**config, template="code", tests_in_prompt=1))[0]
    assert sample.prompt.endswith(
        "Task:\nAdd two numbers.\nYour code should pass these tests:\nassert add(1, 2) == 3\n\nSolution:"
    )
    assert sample.id == "7" and sample.tests == rows[0]["test_list"]
    assert "assert" not in load_samples(DataConfig(**config, template="code"))[0].prompt  # off by default
    with pytest.raises(Exception, match="tests_in_prompt"):
        DataConfig(path=str(path), tests_in_prompt=1)  # no tests_key
