"""Exact resume after SIGKILL (mid-step and mid-save): same per-step metrics, same final weights."""

import json
import signal

import pytest
from safetensors.torch import load_file

from tests.conftest import run_cli, tiny_overrides

KEYS = ("reward/mean", "learn/loss", "learn/grad_norm", "learn/entropy", "rollout/length_mean")


def overrides(model_dir, run_dir, *extra):
    return tiny_overrides(
        model_dir, run_dir, "steps=12", "checkpoint.every=4", "eval.before_training=false",
        "eval.after_training=false", "optim.lr=1e-3", "reward=[format]", "rollout.max_tokens=32",
        *extra,
    )  # fmt: skip


def step_metrics(run_dir):
    """(step, metrics) of every training step row, in order (a rollback would show as a repeated step)."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert not [r for r in rows if r.get("event") == "rollback"], "these runs must be healthy"
    return [(r["step"], tuple(r[k] for k in KEYS)) for r in rows if "reward/mean" in r]


@pytest.fixture(scope="module")
def straight(tiny_model_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("straight")
    proc = run_cli("train", *overrides(tiny_model_dir, run_dir))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run_dir


def assert_same_run(a, b):
    assert step_metrics(a) == step_metrics(b)
    assert [step for step, _ in step_metrics(a)] == list(range(1, 13))
    wa, wb = load_file(a / "model" / "model.safetensors"), load_file(b / "model" / "model.safetensors")
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)


@pytest.mark.slow
def test_kill_mid_step_then_resume_is_exact(tiny_model_dir, tmp_path, straight):
    killed = run_cli("train", *overrides(tiny_model_dir, tmp_path, "+fault.kill_at_step=7"))
    assert killed.returncode == -signal.SIGKILL
    assert step_metrics(tmp_path)[-1][0] == 6  # died during step 7
    resumed = run_cli("train", *overrides(tiny_model_dir, tmp_path, "resume=auto"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same_run(straight, tmp_path)


@pytest.mark.slow
def test_kill_mid_save_keeps_the_previous_checkpoint(tiny_model_dir, tmp_path, straight):
    extra = ("+fault.kill_at_step=8", "+fault.kill_point=save")
    killed = run_cli("train", *overrides(tiny_model_dir, tmp_path, *extra))
    assert killed.returncode == -signal.SIGKILL
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert "step_000004" in names and "step_000008" not in names
    assert any(n.startswith(".tmp-step_000008") for n in names)  # the interrupted write, never renamed
    resumed = run_cli("train", *overrides(tiny_model_dir, tmp_path, "resume=auto"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path / "checkpoints").iterdir())
    assert_same_run(straight, tmp_path)


ASYNC = ("rollout=async", "rollout.actor_backend=process", "rollout.threads=1", "steps=6", "checkpoint.every=2")


@pytest.mark.slow
def test_resume_with_generation_ahead_is_exact(tiny_model_dir, tmp_path):
    # one step of staleness: a checkpoint drops the batch generated ahead and regenerates it, so the run killed
    # in step 5 and resumed from its step-4 checkpoint redoes exactly what the uninterrupted run did
    straight = tmp_path / "straight"
    proc = run_cli("train", *overrides(tiny_model_dir, straight, *ASYNC))
    assert proc.returncode == 0, proc.stderr[-2000:]
    killed = run_cli("train", *overrides(tiny_model_dir, tmp_path / "killed", *ASYNC, "+fault.kill_at_step=5"))
    assert killed.returncode == -signal.SIGKILL
    resumed = run_cli("train", *overrides(tiny_model_dir, tmp_path / "killed", *ASYNC, "resume=auto"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = step_metrics(straight), step_metrics(tmp_path / "killed")
    assert [s for s, _ in a] == list(range(1, 7)) and a == b
    rows = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert max(r.get("rollout/staleness_max", 0) for r in rows) == 1  # it really generated ahead
    wa, wb = (load_file(d / "model" / "model.safetensors") for d in (straight, tmp_path / "killed"))
    assert all((wa[k] == wb[k]).all() for k in wa)
