"""`rlvr bench` as a user runs it."""

import json

from tests.conftest import run_cli


def test_bench_prints_a_breakdown_and_json(tiny_model_dir):
    d = tiny_model_dir
    proc = run_cli("bench", "experiment=tiny", f"model.path={d}", f"data.path={d}/train.jsonl",
                   f"eval.data.path={d}/heldout.jsonl", "prompts_per_step=4", "rollout.group_size=4",
                   "rollout.max_tokens=16", "--steps", "3", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["steps_measured"] == 2
    seconds = result["seconds"]
    parts = sum(seconds[p] for p in ("generate", "score", "learn", "sync", "idle", "other"))
    assert abs(parts - seconds["step"]) < 1e-6 and seconds["generate"] > 0 and seconds["learn"] > 0
    assert result["learner_peak_rss_mb"] > 100 and result["rollout_tokens_per_s"] > 0
    assert "step" in proc.stdout and "tokens/s" in proc.stdout


def test_bench_errors_are_one_line():
    proc = run_cli("bench", "experiment=tiny", "algo.adv_scal=none", "--steps", "3")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error:") and "adv_scal" in proc.stderr
