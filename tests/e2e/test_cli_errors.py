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
