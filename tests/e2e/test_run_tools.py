"""The tools a user reaches for after a run: `rlvr plot`, `rlvr inspect`, `rlvr export`; one run directory per
process at a time; and LoRA runs that can be reloaded from anywhere."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from rlvr.plots import PANELS, read_series, trajectories
from tests.conftest import ROOT, run_cli, run_cli_many, tiny_overrides
from tests.helpers.files import tree_hash


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def full_run(tiny_model_dir, tmp_path_factory) -> Path:
    """3 steps, plots on, every completion logged, checkpoints at steps 0, 2 and 3; the format reward too, so
    that the tiny model's rewards vary within groups and the weights move."""
    run_dir = tmp_path_factory.mktemp("tools") / "run"
    proc = run_cli("train", *tiny_overrides(
        tiny_model_dir, run_dir, "steps=3", "eval.every=2", "tracking.plots=true", "tracking.log_samples=null",
        "checkpoint.every=2", "checkpoint.keep=5", "optim.lr=1e-3", "reward=[math,format]",
    ))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, tmp_path_factory) -> Path:
    """2 LoRA steps, with the base model given as a path relative to the working directory."""
    run_dir = tmp_path_factory.mktemp("tools") / "lora"
    relative = os.path.relpath(tiny_model_dir, ROOT)
    proc = run_cli("train", *tiny_overrides(
        tiny_model_dir, run_dir, f"model.path={relative}", "steps=2", "model.lora.rank=4", "optim.lora_lr=1e-2",
        "reward=[format]",
        "eval.before_training=false", "eval.after_training=false",
    ), cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


# ---- plot ---------------------------------------------------------------------------------------------------
def expected_series(records: list[dict], key: str) -> list[list[float]]:
    """(steps, values) of `key` over the step records, in file order: what a plot of it must show."""
    rows = [r for r in records if "event" not in r and isinstance(r.get(key), (int, float))]
    return [[float(r["step"]) for r in rows], [float(r[key]) for r in rows]]


def test_the_plots_show_exactly_what_metrics_jsonl_holds(full_run):
    records = metrics(full_run)
    panels = {p.name: p for p in PANELS}
    for name in panels:
        png = full_run / "plots" / f"{name}.png"
        with Image.open(png) as image:
            assert image.size[0] > 300 and image.format == "PNG"
        drawn = read_series(png)[name]
        # the keys each panel must draw on this run: named by hand from what the run logs
        wanted = {
            "reward": ["reward/mean", "reward/math/mean", "reward/format/mean"],
            "accuracy": ["eval/accuracy", "eval/lenient_accuracy"],
            "length": ["rollout/length_mean", "rollout/length_max"],
            "entropy": ["learn/entropy"],
            "kl": ["learn/update_kl"],
            "clip_frac": ["learn/clip_frac"],
            "skipped": ["groups/skipped", "groups/constant_frac"],
            "step_time": ["time/generate_s", "time/score_s", "time/learn_s", "time/learner_idle_s", "time/step_s"],
        }[name]
        assert sorted(drawn["series"]) == sorted(wanted), name
        for key in wanted:
            xs, ys = drawn["series"][key]
            exp_xs, exp_ys = expected_series(records, key)
            assert xs == exp_xs, (name, key)
            assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(ys, exp_ys, strict=True)), (name, key)
        assert drawn["eval"] == [0.0, 2.0, 3.0] and drawn["rollback"] == []
    overview = read_series(full_run / "metrics.png")
    assert sorted(overview) == sorted(panels)
    assert overview["reward"]["series"] == read_series(full_run / "plots" / "reward.png")["reward"]["series"]


def test_a_rollback_is_marked_and_splits_the_line(tmp_path):
    """A hand-written run: steps 1-3, a rollback at step 3 back to step 1, steps 2-3 again."""
    from rlvr.plots import plot_run

    rows = [
        {"step": 1, "reward/mean": 0.1},
        {"step": 2, "reward/mean": 0.2},
        {"step": 3, "reward/mean": 0.9},
        {"step": 3, "event": "rollback", "to_step": 1},
        {"step": 2, "reward/mean": 0.25},
        {"step": 3, "reward/mean": 0.3, "eval/accuracy": 0.5},  # a metric first logged after the rollback
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plot_run(tmp_path)
    drawn = read_series(tmp_path / "plots" / "reward.png")["reward"]
    assert drawn["series"]["reward/mean"] == [[1.0, 2.0, 3.0, 2.0, 3.0], [0.1, 0.2, 0.9, 0.25, 0.3]]
    assert drawn["rollback"] == [3.0]
    assert [[r["step"] for r in part] for part in trajectories(rows)] == [[1, 2, 3], [2, 3]]  # two lines
    assert read_series(tmp_path / "plots" / "accuracy.png")["accuracy"]["series"] == {"eval/accuracy": [[3.0], [0.5]]}


# ---- inspect ------------------------------------------------------------------------------------------------
HEADER = re.compile(r"^sample (\S+) · rollout (\d+) · reward (\S+) \(")


def test_inspect_shows_a_steps_completions_worst_first_with_the_verdicts(full_run):
    step_rows = [
        json.loads(line) for line in (full_run / "samples.jsonl").read_text().splitlines() if '"step": 2,' in line
    ]
    assert len(step_rows) == 4 * 4  # every completion of the 4 prompts x 4 rollouts
    proc, best = run_cli_many([
        (["inspect", str(full_run), "--step", "2", "--worst", "--n", "5"], ROOT),
        (["inspect", str(full_run), "--step", "2", "--best", "--n", "1"], ROOT),
    ])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    headers = [HEADER.match(line) for line in proc.stdout.splitlines() if HEADER.match(line)]
    assert len(headers) == 5
    shown = [float(h.group(3)) for h in headers]
    assert shown == sorted(shown) and shown == sorted(r["reward"] for r in step_rows)[:5]
    assert proc.stdout.count("math: extracted") == 5  # the verifier's verdict under each
    assert proc.stdout.count("  gold: ") == 5
    top = float(HEADER.match(next(line for line in best.stdout.splitlines() if HEADER.match(line))).group(3))
    assert top == max(r["reward"] for r in step_rows)


def test_the_tools_refuse_bad_input_in_one_line_and_touch_nothing(full_run, tmp_path):
    before = tree_hash(full_run)
    not_a_run = tmp_path / "empty"
    not_a_run.mkdir()
    out = tmp_path / "export"
    cases = [
        (["inspect", str(full_run), "--step", "99"], "no completions of step 99"),
        (["inspect", str(not_a_run), "--step", "1"], "not an rlvr run directory"),
        (["inspect", str(full_run)], "--step"),
        (["plot", str(tmp_path / "missing")], "not a directory"),
        (["export", str(full_run), "--step", "1", "--out", str(out)], "no checkpoint of step 1; it has steps 0, 2, 3"),
        (["export", str(not_a_run), "--out", str(out)], "not an rlvr run directory"),
        (["export", str(full_run), "--out", str(full_run)], "not an empty directory"),
        (["eval", f"model.path={full_run / 'model'}", f"run_dir={full_run}"], "holds a training run"),
    ]
    for (args, message), proc in zip(cases, run_cli_many([(args, ROOT) for args, _ in cases]), strict=True):
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], (args, proc.stderr)
    assert not out.exists()
    assert tree_hash(full_run) == before


HOLD = """
import sys, time
from pathlib import Path
from rlvr.rundir import hold
with hold(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_run_being_written_is_refused_by_the_tools_and_by_a_second_train(full_run, tiny_model_dir, tmp_path):
    """A live process holds the run (as `rlvr train` does while it works): nothing else may use it."""
    before = tree_hash(full_run)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(full_run)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        tools = [
            ["plot", str(full_run)],
            ["inspect", str(full_run), "--step", "1"],
            ["export", str(full_run), "--out", str(tmp_path / "x")],
        ]
        trains = [
            ["train", *tiny_overrides(tiny_model_dir, full_run, extra)] for extra in ("resume=auto", "overwrite=true")
        ]
        done = run_cli_many([(args, ROOT) for args in tools + trains])
        for args, proc in zip(tools, done[: len(tools)], strict=True):
            assert proc.returncode == 2 and "still being written" in proc.stderr, (args, proc.stderr)
        for proc in done[len(tools) :]:
            assert proc.returncode == 2 and "in use by another running rlvr process" in proc.stderr, proc.stderr
    finally:
        holder.kill()
        holder.wait()
    assert tree_hash(full_run) == before
    assert run_cli("inspect", str(full_run), "--step", "1", "--n", "1").returncode == 0  # the lock died with it


# ---- export -------------------------------------------------------------------------------------------------
def greedy(model, tokenizer, prompts: list[str]) -> list[list[int]]:
    out = []
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            gen = model.generate(ids, max_new_tokens=16, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        out.append(gen[0, ids.shape[1] :].tolist())
    return out


def prompts_of(model_dir: Path) -> list[str]:
    rows = [json.loads(line) for line in (model_dir / "heldout.jsonl").read_text().splitlines()[:4]]
    return [f"Question: {r['problem']}\nAnswer:" for r in rows]


def the_runs_own(run_dir: Path, step: int):
    """The policy of `run_dir` at `step` as the run itself loads it on resume (adapter unmerged)."""
    from rlvr.config import model_config_of_run
    from rlvr.model import load_model

    cfg = model_config_of_run(run_dir)
    cfg.checkpoint = str(run_dir / "checkpoints" / f"step_{step:06d}")
    return load_model(cfg, torch.device("cpu")).eval()


@pytest.mark.parametrize("which", ["full", "lora"])
def test_export_writes_a_checkpoint_transformers_loads_with_the_runs_greedy_outputs(
    which, full_run, lora_run, tiny_model_dir, tmp_path
):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir, step = (full_run, 2) if which == "full" else (lora_run, 2)
    out = tmp_path / "exported"
    proc = run_cli("export", str(run_dir), "--step", str(step), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "config.json").exists() and not (out / "adapter_config.json").exists()
    exported = AutoModelForCausalLM.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    prompts = prompts_of(tiny_model_dir)
    assert greedy(exported, tokenizer, prompts) == greedy(the_runs_own(run_dir, step), tokenizer, prompts)
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(exported.state_dict()[name], base.state_dict()[name])  # the training is in it


def test_a_lora_runs_model_dir_points_at_its_base_absolutely_and_is_refused_as_a_model(lora_run, tiny_model_dir):
    adapter = json.loads((lora_run / "model" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(tiny_model_dir.resolve())
    assert str(tiny_model_dir.resolve()) in (lora_run / "config.yaml").read_text()
    overrides = [
        f"model.path={lora_run / 'model'}" if o.startswith("model.path=") else o
        for o in tiny_overrides(tiny_model_dir, lora_run.parent / "again")
    ]
    proc = run_cli("train", *overrides)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "is a LoRA adapter" in lines[0], proc.stderr
    assert f"model.adapter={lora_run / 'model'}" in lines[0]
    assert not (lora_run.parent / "again").exists()  # a rejected run leaves no directory behind
