"""Bad input at the command line: one readable line, a non-zero exit code, no traceback wall."""

import json

import pytest

from tests.conftest import run_cli, tiny_overrides


def assert_one_line_error(proc, *fragments: str) -> None:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in error_lines[0], error_lines[0]


def test_cfg_job_prints_the_composed_config():
    proc = run_cli("train", "--cfg", "job", "algo.adv_scale=none")
    assert proc.returncode == 0, proc.stderr
    assert "adv_scale: none" in proc.stdout and "group_size: 8" in proc.stdout


def test_help_lists_the_config_groups():
    proc = run_cli("train", "--help")
    assert proc.returncode == 0
    for group in ("algo:", "model:", "data:", "rollout:", "reward:", "experiment:"):
        assert group in proc.stdout


def test_unknown_key_is_hydras_error():
    proc = run_cli("train", "algo.adv_scal=none")
    assert proc.returncode != 0
    assert "adv_scal" in proc.stderr and "Traceback" not in proc.stderr


def test_invalid_choice_names_the_allowed_values():
    proc = run_cli("train", "algo.adv_scale=rank")
    assert proc.returncode != 0
    assert "group_std" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_command():
    proc = run_cli("trian")
    assert proc.returncode == 2 and "unknown command" in proc.stderr


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("rollout.max_tokens=0", "rollout.max_tokens must be >= 1"),
        ("rollout.group_size=1", "group_size"),
        ("reward.custom=no/such/file.py:fn", "reward file not found"),
        ("reward.math.fn=not_a_reward", "unknown reward function"),
    ],
)
def test_invalid_values(tiny_model_dir, tmp_path, override, fragment):
    assert_one_line_error(run_cli("train", *tiny_overrides(tiny_model_dir, tmp_path / "run", override)), fragment)


def test_missing_dataset_file(tiny_model_dir, tmp_path):
    proc = run_cli("train", *tiny_overrides(tiny_model_dir, tmp_path / "run", f"data.path={tmp_path}/nope.jsonl"))
    assert_one_line_error(proc, "dataset file not found", "nope.jsonl")


def test_missing_model(tmp_path):
    proc = run_cli("train", "experiment=tiny", f"model.path={tmp_path}/no-model", f"run_dir={tmp_path}/run")
    assert_one_line_error(proc, "no-model")


def test_rows_without_the_answer_field(tiny_model_dir, tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"problem": "1+1?", "answer": "2"}) + "\n" + json.dumps({"problem": "2+2?"}) + "\n")
    proc = run_cli("train", *tiny_overrides(tiny_model_dir, tmp_path / "run", f"data.path={path}"))
    assert_one_line_error(proc, "row 1", "'answer'")


def test_empty_dataset(tiny_model_dir, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    proc = run_cli("train", *tiny_overrides(tiny_model_dir, tmp_path / "run", f"data.path={path}"))
    assert_one_line_error(proc, "empty")


def test_malformed_json_line(tiny_model_dir, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"problem": "1+1?", "answer": "2"}\n{"problem": \n')
    proc = run_cli("train", *tiny_overrides(tiny_model_dir, tmp_path / "run", f"data.path={path}"))
    assert_one_line_error(proc, "bad.jsonl:2")


CONFIG_ERRORS = [
    ("rollout.sync_every=0", "rollout.sync_every must be >= 1"),
    ("eval.n=0", "eval.n and eval.batch_size must be >= 1"),
    ("eval.n=2 eval.temperature=0.7 eval.ks=[1,4]", "every k of pass@k/maj@k needs 1 <= k <= eval.n=2"),
    ("rollout.batch_size=0", "rollout.batch_size must be >= 1"),
    ("eval.batch_size=0", "eval.n and eval.batch_size must be >= 1"),
    ("algo.max_resample_rounds=-1", "algo.max_resample_rounds must be >= 0"),
    ("algo.overlong=soft_penalty algo.overlong_buffer=24", "algo.overlong_buffer=24 must be smaller than"),
    ("reward.math.weight=abc", "weight"),
    ("eval.temperature=-0.5", "eval.temperature must be >= 0"),
    ("data.limit=-1", "data.limit must be >= 0"),
    ("data.max_prompt_tokens=0", "data.max_prompt_tokens must be >= 1"),
    ("data.max_prompt_tokens=1", "data.max_prompt_tokens=1 drops every prompt"),
    ("rollout.top_k=-1", "rollout.top_k must be >= 0"),
    ("rollout.temperature=0", "rollout.temperature=0 makes the 4 rollouts of a group identical"),
    ("eval.n=4 eval.temperature=0", "greedy decoding gives 4 identical samples"),
    ("rollout=vllm rollout.max_model_len=40", "leave long prompts out with data.max_prompt_tokens=16"),
    ("resume=auto overwrite=true", "overwrite=true deletes run_dir first"),
    ("resume=/no/such/checkpoint", "not a checkpoint directory"),
]


@pytest.mark.parametrize(("overrides", "fragment"), CONFIG_ERRORS, ids=[o for o, _ in CONFIG_ERRORS])
def test_config_errors_are_one_line_before_anything_is_written(tiny_model_dir, tmp_path, overrides, fragment):
    run_dir = tmp_path / "run"
    proc = run_cli("train", *tiny_overrides(tiny_model_dir, run_dir, *overrides.split()), cwd=tmp_path)
    assert_one_line_error(proc, fragment)
    assert proc.returncode == 2
    assert list(tmp_path.iterdir()) == []  # nothing written: no run directory, no Hydra output in the cwd


def test_missing_eval_data_is_not_read_when_evaluation_is_off(tiny_model_dir, tmp_path):
    extra = (
        "eval.data.path=/no/such/heldout.jsonl",
        "eval.every=0",
        "eval.before_training=false",
        "eval.after_training=false",
    )
    proc = run_cli("train", *tiny_overrides(tiny_model_dir, tmp_path / "run", "steps=1", *extra))
    assert proc.returncode == 0, proc.stderr[-2000:]
    missing = run_cli(
        "train", *tiny_overrides(tiny_model_dir, tmp_path / "run2", "eval.data.path=/no/such/heldout.jsonl")
    )
    assert_one_line_error(missing, "dataset file not found", "heldout.jsonl")
