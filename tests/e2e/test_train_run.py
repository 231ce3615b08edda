"""`rlvr train` as a user runs it: the run directory holds everything the issue promises."""

import json

from tests.conftest import run_cli, tiny_overrides


def test_train_writes_metrics_plot_summary_and_config(tiny_model_dir, tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli("train", *tiny_overrides(tiny_model_dir, run_dir, "steps=3", "eval.every=2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 3
    for key in ("accuracy_before", "accuracy_after", "wall_s", "length_before", "length_after"):
        assert isinstance(summary[key], float)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if "reward/mean" in r]
    assert steps == [1, 2, 3]
    assert [r["step"] for r in records if "eval/accuracy" in r] == [0, 2, 3]  # before, every 2, after
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 3 * 4 * 4  # every completion of the (at most 8) groups of each step
    for row in samples:  # the verifier's verdict beside each logged completion, agreeing with its reward
        verdict = row["reward_infos"]["math"]
        assert verdict["correct"] == (row["rewards"]["math"] == 1.0) and verdict["reason"]
    assert not (run_dir / "metrics.png").exists()  # tracking.plots=false (tests/e2e/test_run_tools.py draws them)
    assert "adv_scale" in (run_dir / "config.yaml").read_text()
    assert "before training" in proc.stdout and "after 3 steps" in proc.stdout
    assert "done: 3 steps in" in proc.stderr and f"rlvr inspect {run_dir} --step 3 --worst" in proc.stderr


def test_custom_reward_by_file_path(tiny_model_dir, tmp_path):
    reward_file = tmp_path / "my_reward.py"
    reward_file.write_text("def brevity(completion, sample, **kw):\n    return 1.0 if len(completion) < 30 else 0.0\n")
    run_dir = tmp_path / "run"
    proc = run_cli(
        "train",
        *tiny_overrides(tiny_model_dir, run_dir, f"reward.custom={reward_file}:brevity", "eval.before_training=false"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
    assert "reward/custom/mean" in first and "reward/math/mean" in first
    assert first["reward/custom/errors"] == 0
