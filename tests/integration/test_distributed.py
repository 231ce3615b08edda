"""Learner ranks: `learner.world_size=2` (FSDP2 over gloo, on this CPU) against one learner process on the same
global batches. The same per-step loss and gradient norm (1e-4 relative) and the same weights at the end (the
two ranks' actors get their weights by broadcast from rank 0, the one process's by file: the same rollouts
show that both deliver the same weights); a
checkpoint written by two ranks resumes in one process (resharded by torch.distributed.checkpoint) with the
same next step as the two-rank run itself. A killed rank stops the run with one line, takes every process with
it, and `resume=auto` finishes the run. LoRA trains the same with two ranks as in one process (the adapter's
tensors sharded with the frozen base, the reference model the base with the adapter off), and its two-rank
checkpoint resumes in one process."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rlvr.rollout.processes import alive
from tests.conftest import ROOT, run_cli, tiny_overrides
from tests.integration.test_exit_paths import assert_nothing_left, steps_logged, wait_for_step

pytestmark = pytest.mark.slow

KEYS = (
    "learn/loss", "learn/grad_norm", "learn/entropy", "learn/clip_frac", "learn/update_kl",
    "rollout/logprob_abs_diff",
)  # fmt: skip
SAME_ROLLOUTS = ("reward/mean", "rollout/length_mean", "learn/tokens")


def overrides(model_dir, run_dir, world_size, *extra):
    return tiny_overrides(
        model_dir, run_dir, "steps=3", "checkpoint.every=2", "eval.before_training=false",
        "eval.after_training=false", "optim.lr=1e-3", "reward=[format]", "rollout.max_tokens=24",
        "rollout.mode=actor", "rollout.actor_backend=process", "rollout.threads=1", "threads=1",
        "algo.num_iterations=2", f"learner.world_size={world_size}", *extra,
    )  # fmt: skip


def steps(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in rows if "reward/mean" in r}


def assert_close(a: float, b: float, rel: float = 1e-4) -> None:
    assert math.isclose(a, b, rel_tol=rel, abs_tol=1e-7), (a, b)


def assert_same_step(a: dict, b: dict) -> None:
    for key in SAME_ROLLOUTS:  # the same rollouts went in (else the comparison below means nothing)
        assert a[key] == b[key], key
    for key in KEYS:
        assert_close(a[key], b[key])


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory):
    out = {}
    for world_size, transport in ((1, "file"), (2, "broadcast")):
        run_dir = tmp_path_factory.mktemp(f"world{world_size}")
        transport = f"rollout.weight_transport={transport}"
        proc = run_cli("train", *overrides(tiny_model_dir, run_dir, world_size, transport), timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[world_size] = run_dir
    return out


def test_two_ranks_train_as_one_process_does(runs):
    one, two = steps(runs[1]), steps(runs[2])
    assert sorted(one) == sorted(two) == [1, 2, 3]
    assert "weights_broadcast_failed" not in (runs[2] / "metrics.jsonl").read_text()  # no version went by file
    for step in one:
        assert_same_step(one[step], two[step])
        assert two[step]["learn/micro_batches"] >= 2  # each rank ran its own micro-batch: really sharded
    assert one[3]["learn/grad_norm"] > 0
    a = load_file(runs[1] / "model" / "model.safetensors")
    b = load_file(runs[2] / "model" / "model.safetensors")
    base = load_file(runs[1] / "checkpoints" / "step_000000" / "model.safetensors")
    assert a.keys() == b.keys()
    # the two runs' updates agree in norm to 1e-4 relative, tensor by tensor. Not element by element: Adam
    # divides by the gradient's running RMS, so where a gradient is nearly zero float noise of the reduction
    # order moves the update by a percent (seen: 1.325e-3 against 1.337e-3 after 6 optimizer steps)
    for name in a:
        update = (a[name] - base[name]).norm()
        assert (a[name] - b[name]).norm() <= 1e-4 * update + 1e-7, name
    assert any((a[name] - base[name]).abs().max() > 1e-4 for name in a)  # and training changed them


def test_a_two_rank_checkpoint_resumes_in_one_process(tiny_model_dir, tmp_path, runs):
    checkpoint = runs[2] / "checkpoints" / "step_000002"
    assert (checkpoint / "optimizer" / ".metadata").is_file()  # written by torch.distributed.checkpoint
    proc = run_cli("train", *overrides(tiny_model_dir, tmp_path, 1, f"resume={checkpoint}"), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_same_step(steps(tmp_path)[3], steps(runs[2])[3])


def test_a_killed_rank_stops_the_run_and_resume_finishes_it(tiny_model_dir, tmp_path):
    extra = ("steps=8", "prompts_per_step=2", "rollout.max_tokens=16", "checkpoint.every=2")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlvr.cli", "train", *overrides(tiny_model_dir, tmp_path, 2, *extra)],
        cwd=ROOT, env={**os.environ, "HYDRA_FULL_ERROR": "0"}, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    run = wait_for_step(proc, tmp_path)
    deadline = time.monotonic() + 120
    while max(steps_logged(tmp_path)) < 3:  # past the step-2 checkpoint
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-3000:]
        time.sleep(0.1)
    ranks = {p: Path(f"/proc/{p}/comm").read_text().strip() for p in run.tree if alive(p)}
    rank1 = next(p for p, name in ranks.items() if name == "rlvr-learner-1")
    assert sorted(n for n in ranks.values() if n.startswith("rlvr-")) == ["rlvr-actor-0", "rlvr-learner-0",
                                                                           "rlvr-learner-1"]  # fmt: skip
    os.kill(rank1, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 3, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith("stopped:")]
    assert len(lines) == 1 and "learner rank 1" in lines[0] and "Traceback" not in stderr, stderr[-3000:]
    assert_nothing_left(run)  # the other rank and the actor went with it, and their shared memory
    resumed = run_cli("train", *overrides(tiny_model_dir, tmp_path, 2, *extra, "resume=auto"), timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert steps_logged(tmp_path)[-1] == 8 and sorted(set(steps_logged(tmp_path))) == list(range(1, 9))


LORA = ("model.lora.rank=4", "model.lora.alpha=8", "optim.lora_lr=1e-2", "algo.kl_beta=0.1")


@pytest.fixture(scope="module")
def lora_runs(tiny_model_dir, tmp_path_factory):
    out = {}
    for world_size in (1, 2):
        run_dir = tmp_path_factory.mktemp(f"lora{world_size}")
        proc = run_cli("train", *overrides(tiny_model_dir, run_dir, world_size, *LORA), timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[world_size] = run_dir
    return out


def test_lora_with_two_ranks_trains_as_one_process_does(lora_runs):
    one, two = steps(lora_runs[1]), steps(lora_runs[2])
    assert sorted(one) == sorted(two) == [1, 2, 3]
    for step in one:
        assert_same_step(one[step], two[step])
        assert_close(one[step]["learn/kl"], two[step]["learn/kl"])  # the base model as reference, on both
    assert one[3]["learn/kl"] > 0
    # the run's exported adapter, and the checkpoint's: the same tensors, changed by training
    for path in ("model/adapter_model.safetensors", "checkpoints/step_000002/model.safetensors"):
        a, b = load_file(lora_runs[1] / path), load_file(lora_runs[2] / path)
        assert a.keys() == b.keys() and a and all("lora_" in name for name in a), path
        for name in a:
            assert (a[name] - b[name]).norm() <= 1e-4 * a[name].norm() + 1e-7, (path, name)
    start = load_file(lora_runs[1] / "checkpoints/step_000000/model.safetensors")
    end = load_file(lora_runs[1] / "model/adapter_model.safetensors")
    assert any((end[n] - start[n]).abs().max() > 1e-4 for n in end)


@pytest.mark.parametrize(("written", "resumed"), [(2, 1), (1, 2)])
def test_a_lora_checkpoint_resumes_at_another_world_size(tiny_model_dir, tmp_path, lora_runs, written, resumed):
    """Two ranks load the adapter into their shards (its file names tensors without the adapter's name);
    one process loads it as peft does."""
    checkpoint = lora_runs[written] / "checkpoints" / "step_000002"
    proc = run_cli("train", *overrides(tiny_model_dir, tmp_path, resumed, *LORA, f"resume={checkpoint}"), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_same_step(steps(tmp_path)[3], steps(lora_runs[written])[3])


def test_lora_with_bf16_compute_on_two_ranks(tiny_model_dir, tmp_path):
    """bf16 compute over float32 master weights, with the base model as reference: the reference forward (the
    adapter off, which peft marks as not requiring grad) can be FSDP's first, where it decides the gradients'
    reduce dtype; the step must still train the adapter in float32 (it failed: "a gradient with dtype
    BFloat16 to a tensor with grad_dtype Float")."""
    proc = run_cli(
        "train", *overrides(tiny_model_dir, tmp_path, 2, *LORA, "model.dtype=bfloat16", "steps=2"), timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = steps(tmp_path)
    assert sorted(metrics) == [1, 2] and metrics[2]["learn/kl"] > 0 and metrics[2]["learn/grad_norm"] > 0
    adapter = load_file(tmp_path / "model" / "adapter_model.safetensors")
    assert adapter and all(t.dtype == torch.float32 for t in adapter.values())
