"""rlvr against TRL's GRPOTrainer: seconds per GRPO step on this machine's CPU, from process wall clock.

    python scripts/bench_vs_trl.py [--model DIR] [--rounds 2] [--steps 5 25] [--prompts 8] [--group 8]
        [--max-tokens 64] [--rlvr-overrides "rollout=vllm rollout.gpu_memory_utilization=0.1"] [--label NAME] [--json]
    python scripts/bench_vs_trl.py --config sync= --config "async=rollout=async threads=1 rollout.threads=1"
    make bench-trl BENCH_ARGS="--rounds 3"

Several rlvr configurations (`--config LABEL=OVERRIDES`, repeated) run in the same rounds against the same TRL
runs, the order rotating every round; each gets its own ratio.

What runs. Each framework trains the same model directory (default: the demo's tiny base model,
`artifacts/tiny-base`, built with `rlvr make-tiny` if absent) in its own process, alternately (the order flips
every round), for `--steps` 5 and 25 steps. Seconds per step = (wall(25 steps) - wall(5 steps)) / 20: the
difference cancels what a run pays once (interpreter start, imports, model load, rlvr's reward pool and step-0
checkpoint, TRL's trainer setup). The report gives every round, the median per framework and the ratio TRL s/step
/ rlvr s/step (> 1: rlvr is faster). TRL lives in a venv of its own (`.bench/trl-venv`: torch, then TRL pinned,
with the same transformers version as rlvr's environment); TRL is never a dependency of rlvr.

The same work on both sides (rlvr Hydra override <-> TRL GRPOConfig field):
- the model in fp32 on CPU, 2 torch threads: model.path, model.dtype/master_dtype=float32, threads=2 <-> the same
  path, use_cpu, bf16=fp16=False, torch.set_num_threads(2);
- the prompts: the rows of the model dir's train.jsonl rendered with data.template=book <-> a prompts file this
  script renders with rlvr.data's BOOK_TEMPLATE (checked: the same prompt token ids);
- 8 prompts x 8 completions, one optimizer step per 64 completions, one generate call and one forward/backward
  per step: prompts_per_step, rollout.group_size, rollout.batch_size=64, optim.micro_batch_size=64 <->
  per_device_train_batch_size=64 (completions), num_generations=8, gradient_accumulation_steps=1;
- 64 new tokens at T=1.0, no top-p/top-k: rollout.max_tokens/temperature/top_p/top_k <-> max_completion_length,
  temperature, top_p, top_k;
- token-level loss, group-std advantages divided by std + 1e-4, clip 0.2, one update per batch, no KL:
  algo.loss_agg=token_mean, adv_scale=group_std, eps=1e-4, clip_low/high=0.2, num_iterations=1, kl_beta=0 <->
  loss_type="dapo", scale_rewards="group", epsilon=0.2, num_iterations=1, beta=0;
- AdamW at lr 1e-5 constant, grad clip 1.0, no weight decay: optim.* <-> learning_rate, lr_scheduler_type,
  max_grad_norm, weight_decay;
- no gradient checkpointing, no evaluation, no tracker, no model saving: model.gradient_checkpointing=false,
  eval.before_training/after_training=false, eval.every=0, tracking.wandb=disabled, checkpoint.save_final=false
  <-> gradient_checkpointing=False, eval_strategy="no", report_to="none", save_strategy="no";
- the reward, 1.0 if the gold answer occurs in the completion (scripts/bench_reward.py): reward=[]
  reward.custom=scripts/bench_reward.py:contains_answer <-> bench_reward.contains_answer_trl.

The script checks that both really ran that shape (steps logged, completions per step, every completion at most
--max-tokens tokens, the prompts tokenized to the same ids) and prints the mean completion length of the measured
steps per framework: the two sample different completions, so similar lengths show the work was comparable.

Differences that remain (the per-step ones are part of what is measured; the fixed ones cancel):
- per step, rlvr computes `learn/update_kl` (a no-grad forward on one micro-batch after the update) when the
  collapse monitor's kl_spike rule is on, as it is by default; TRL has no such check. Neither side runs a
  separate forward for the sampling log-probs: rlvr's HF engine keeps them from generation, TRL takes the
  training forward's own, detached, when generation and update are aligned as here.
- rlvr scores in a reward worker process (`reward_workers=1`, a pebble pool), TRL calls the function inline.
- rlvr runs its collapse monitor every step, writes samples.jsonl and run_state.json each step, saves a step-0
  checkpoint and plots metrics.png at the end (fixed, cancel); a monitor rollback would change the work, so it
  makes the run fail here (a barely trained model may need --rlvr-overrides monitor.length_runaway.enabled=false).
- prompt order: both shuffle the same rows with seed 0, but each with its own sampler, so the prompts of a step
  (and so the completion lengths) differ; the report shows the lengths.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent
DEFAULT_MODEL = ROOT / "artifacts" / "tiny-base"
BENCH_DIR = ROOT / ".bench"
TORCH_REQUIREMENT = "torch==2.13.0"  # first, so pip takes the local CPU wheel before TRL pulls another build
TRL_VERSION = "1.16.0"
LEARNING_RATE = 1e-5
SEED = 0
THREADS = 2
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "WANDB_MODE": "disabled"}


class BenchError(RuntimeError):
    """A run failed or did not do the work asked for: the benchmark would compare unequal things."""


# ---- setup -----------------------------------------------------------------------------------------------------
def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_model(model: Path) -> Path:
    """The model directory; the default tiny base model is built if absent (about 5 minutes on 2 cores)."""
    if (model / "config.json").exists():
        if not (model / "train.jsonl").exists():
            raise BenchError(f"{model} has no train.jsonl: the prompts of both runs are its rows")
        return model
    if model.resolve() != DEFAULT_MODEL.resolve():
        raise BenchError(f"--model {model}: no config.json there (a save_pretrained directory with train.jsonl)")
    log(f"building the tiny base model into {model} (rlvr make-tiny, about 5 minutes)...")
    subprocess.run([sys.executable, "-m", "rlvr.cli", "make-tiny", "--out", str(model)], check=True, env=rlvr_env())
    return model


def rlvr_env() -> dict[str, str]:
    """The environment of rlvr processes: this checkout's rlvr first, nothing from the hub."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, **OFFLINE_ENV, "PYTHONPATH": path, "TOKENIZERS_PARALLELISM": "false"}


def trl_env() -> dict[str, str]:
    """The environment of TRL processes: nothing of rlvr's on the path."""
    env = {**os.environ, **OFFLINE_ENV, "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PYTHONPATH", None)
    return env


def write_prompts(model: Path, out: Path) -> int:
    """Render train.jsonl exactly as rlvr does with data.template=book, with rlvr's prompt token ids, into a
    JSON-lines file the TRL process reads; returns the number of rows."""
    from rlvr.config import ModelConfig
    from rlvr.data import BOOK_TEMPLATE, load_rows, make_renderer
    from rlvr.model import load_tokenizer
    from rlvr.rollout.base import encode_prompts

    render = make_renderer(BOOK_TEMPLATE)
    rows = load_rows(str(model / "train.jsonl"))
    prompts = [render(str(row["problem"])) for row in rows]
    ids = encode_prompts(load_tokenizer(ModelConfig(path=str(model))), prompts)
    with out.open("w") as f:
        for row, prompt, prompt_ids in zip(rows, prompts, ids, strict=True):
            f.write(json.dumps({"prompt": prompt, "answer": str(row["answer"]), "rlvr_prompt_ids": prompt_ids}) + "\n")
    return len(rows)


def ensure_trl_venv(venv: Path, transformers_version: str) -> Path:
    """A venv with torch, then TRL pinned and rlvr's transformers version; returns its python. Reused while the
    pins are unchanged."""
    python = venv / "bin" / "python"
    pins = [TORCH_REQUIREMENT, f"trl=={TRL_VERSION}", f"transformers=={transformers_version}"]
    marker = venv / ".bench-pins"
    if python.exists() and marker.exists() and marker.read_text().split() == pins:
        return python
    log(f"creating the TRL venv {venv} ({' '.join(pins)})...")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, TORCH_REQUIREMENT], check=True, env=trl_env())
    subprocess.run([*pip, *pins], check=True, env=trl_env())
    marker.write_text(" ".join(pins))
    return python


VERSIONS_SNIPPET = """
import importlib.metadata as m, json, platform
names = ["torch", "transformers", "trl", "accelerate", "datasets"]
out = {"python": platform.python_version()}
for n in names:
    try:
        out[n] = m.version(n)
    except m.PackageNotFoundError:
        pass
print(json.dumps(out))
"""


def versions(python: str, env: dict[str, str]) -> dict[str, str]:
    """Package versions as that interpreter sees them."""
    done = subprocess.run([python, "-c", VERSIONS_SNIPPET], check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout)


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = next((int(line.split()[1]) for line in f if line.startswith("MemTotal")), 0)
    return {
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "mem_gib": round(mem_kb / 2**20, 1),
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


# ---- the two sides ---------------------------------------------------------------------------------------------
def rlvr_command(args: argparse.Namespace, steps: int, run_dir: Path, extra: str) -> list[str]:
    """`rlvr train` doing the work of the TRL run (see the table in the docstring); the configuration's own
    overrides go last and win."""
    batch = args.prompts * args.group
    overrides = [
        "experiment=tiny",
        f"model.path={args.model}",
        "model.dtype=float32",
        "model.master_dtype=float32",
        "model.device=cpu",
        "model.gradient_checkpointing=false",
        f"data.path={args.model / 'train.jsonl'}",
        "data.template=book",
        f"steps={steps}",
        f"prompts_per_step={args.prompts}",
        f"rollout.group_size={args.group}",
        f"rollout.max_tokens={args.max_tokens}",
        f"rollout.batch_size={batch}",
        "rollout.temperature=1.0",
        "rollout.top_p=1.0",
        "rollout.top_k=0",
        f"optim.micro_batch_size={batch}",
        f"optim.lr={LEARNING_RATE}",
        "optim.schedule=constant",
        "optim.warmup_steps=0",
        "optim.weight_decay=0.0",
        "optim.grad_clip=1.0",
        "algo=grpo",
        "algo.loss_agg=token_mean",
        "algo.adv_scale=group_std",
        "algo.eps=1e-4",
        "algo.clip_low=0.2",
        "algo.clip_high=0.2",
        "algo.kl_beta=0.0",
        "algo.num_iterations=1",
        "algo.zero_variance=keep",
        "algo.overlong=none",
        "algo.tis_cap=0.0",
        "reward=[]",
        f"reward.custom={SCRIPTS / 'bench_reward.py'}:contains_answer",
        "eval.before_training=false",
        "eval.after_training=false",
        "eval.every=0",
        "checkpoint.save_final=false",
        "checkpoint.every=0",
        "tracking.wandb=disabled",
        "tracking.progress=false",
        "tracking.plots=false",
        f"threads={THREADS}",
        f"seed={SEED}",
        f"run_dir={run_dir}",
        *shlex.split(extra),
    ]
    return [sys.executable, "-m", "rlvr.cli", "train", *overrides]


def trl_spec(args: argparse.Namespace, steps: int, out_dir: Path, prompts_file: Path) -> dict[str, Any]:
    return {
        "model": str(args.model),
        "prompts_file": str(prompts_file),
        "output_dir": str(out_dir),
        "result_file": str(out_dir / "result.json"),
        "steps": steps,
        "prompts": args.prompts,
        "group": args.group,
        "max_tokens": args.max_tokens,
        "lr": LEARNING_RATE,
        "seed": SEED,
        "threads": THREADS,
    }


def trl_worker(spec_file: str) -> None:
    """Runs inside the TRL venv (`bench_vs_trl.py trl-worker spec.json`): the GRPOTrainer run, then a result file
    with its log history, the completions each reward call saw and the prompt tokenization check."""
    spec = json.loads(Path(spec_file).read_text())
    import torch

    torch.set_num_threads(spec["threads"])
    from bench_reward import contains_answer_trl
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    rows = [json.loads(line) for line in Path(spec["prompts_file"]).read_text().splitlines() if line.strip()]
    tokenizer = AutoTokenizer.from_pretrained(spec["model"])
    trl_ids = tokenizer(text=[r["prompt"] for r in rows])["input_ids"]  # as GRPOTrainer._tokenize_prompts does
    prompt_id_mismatches = sum(list(a) != r["rlvr_prompt_ids"] for a, r in zip(trl_ids, rows, strict=True))
    completions_per_call: list[int] = []

    def contains_answer(completions, answer, **kwargs):
        completions_per_call.append(len(completions))
        return contains_answer_trl(completions, answer, **kwargs)

    batch = spec["prompts"] * spec["group"]
    config = GRPOConfig(
        output_dir=spec["output_dir"],
        use_cpu=True,
        bf16=False,
        fp16=False,
        gradient_checkpointing=False,
        num_generations=spec["group"],
        per_device_train_batch_size=batch,  # completions, not prompts: 8 prompts x 8 per optimizer step
        gradient_accumulation_steps=1,
        num_iterations=1,
        beta=0.0,
        loss_type="dapo",
        scale_rewards="group",
        epsilon=0.2,
        learning_rate=spec["lr"],
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
        max_completion_length=spec["max_tokens"],
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        use_vllm=False,
        max_steps=spec["steps"],
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        eval_strategy="no",
        disable_tqdm=True,
        seed=spec["seed"],
        dataloader_num_workers=0,
    )
    dataset = Dataset.from_list([{"prompt": r["prompt"], "answer": r["answer"]} for r in rows])
    trainer = GRPOTrainer(
        model=spec["model"],
        reward_funcs=contains_answer,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    result = {
        "global_step": trainer.state.global_step,
        "log_history": trainer.state.log_history,
        "completions_per_call": completions_per_call,
        "prompt_id_mismatches": prompt_id_mismatches,
        "model_dtype": str(next(trainer.model.parameters()).dtype),
        "gradient_checkpointing": bool(getattr(trainer.model, "is_gradient_checkpointing", False)),
        "torch_threads": torch.get_num_threads(),
    }
    Path(spec["result_file"]).write_text(json.dumps(result))


# ---- running and checking --------------------------------------------------------------------------------------
def timed(cmd: list[str], log_path: Path, env: dict[str, str], timeout_s: float) -> float:
    """Process wall clock of `cmd` (output to `log_path`); a failed run stops the benchmark with its last lines."""
    with log_path.open("w") as f:
        start = time.perf_counter()
        try:
            done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=ROOT, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{shlex.join(cmd[:4])} ... still running after {timeout_s:.0f} s (--timeout)") from None
        wall = time.perf_counter() - start
    if done.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise BenchError(f"{shlex.join(cmd[:4])} ... exited {done.returncode}; last lines of {log_path}:\n{tail}")
    return wall


def check_rlvr_run(run_dir: Path, args: argparse.Namespace, steps: int) -> list[dict[str, float]]:
    """Per-step work of an rlvr run from metrics.jsonl; raises unless it did `steps` steps of the asked shape."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    events = [r["event"] for r in rows if "event" in r]
    if events:
        raise BenchError(f"rlvr run {run_dir} logged events {events}: a rollback changes the work; see metrics.jsonl")
    step_rows = [r for r in rows if "reward/mean" in r]
    if [r["step"] for r in step_rows] != list(range(1, steps + 1)):
        raise BenchError(f"rlvr run {run_dir}: logged steps {[r['step'] for r in step_rows]}, expected 1..{steps}")
    out = []
    for r in step_rows:
        completions = r["rollout/tokens"] / r["rollout/length_mean"] if r["rollout/length_mean"] else 0.0
        shape_ok = (
            r["groups/trained"] == args.prompts
            and r["groups/rounds"] == 1
            and round(completions) == args.prompts * args.group
            and r["rollout/length_max"] <= args.max_tokens
            and r["learn/tokens"] == r["rollout/tokens"]
        )
        if not shape_ok:
            raise BenchError(f"rlvr run {run_dir} step {r['step']} is not {args.prompts}x{args.group} rollouts: {r}")
        out.append(
            {
                "step": r["step"],
                "completions": round(completions),
                "mean_length": r["rollout/length_mean"],
                "truncated_frac": r["rollout/truncated_frac"],
                "reward": r["reward/mean"],
                "step_s": r["time/step_s"],
            }
        )
    return out


def check_trl_run(result_file: Path, args: argparse.Namespace, steps: int) -> list[dict[str, float]]:
    """Per-step work of a TRL run from its log history; raises unless it did `steps` steps of the asked shape."""
    result = json.loads(result_file.read_text())
    history = [r for r in result["log_history"] if "completions/mean_length" in r]
    batch = args.prompts * args.group
    problems = []
    if result["global_step"] != steps or [r["step"] for r in history] != list(range(1, steps + 1)):
        problems.append(f"steps {[r['step'] for r in history]} (global_step {result['global_step']}), expected {steps}")
    if result["completions_per_call"] != [batch] * steps:
        problems.append(f"completions per reward call {result['completions_per_call']}, expected {steps} x {batch}")
    if result["prompt_id_mismatches"]:
        problems.append(f"{result['prompt_id_mismatches']} prompts tokenized differently from rlvr")
    if result["model_dtype"] != "torch.float32" or result["gradient_checkpointing"]:
        problems.append(f"model {result['model_dtype']}, gradient checkpointing {result['gradient_checkpointing']}")
    if result["torch_threads"] != THREADS:
        problems.append(f"torch used {result['torch_threads']} threads, not {THREADS}")
    if any(r["completions/max_length"] > args.max_tokens for r in history):
        problems.append(f"a completion longer than {args.max_tokens} tokens")
    if problems:
        raise BenchError(f"TRL run {result_file.parent}: " + "; ".join(problems))
    return [
        {
            "step": r["step"],
            "completions": batch,
            "mean_length": r["completions/mean_length"],
            "truncated_frac": r["completions/clipped_ratio"],
            "reward": r["reward"],
            "step_s": r.get("step_time"),
        }
        for r in history
    ]


def run_rlvr(args: argparse.Namespace, steps: int, name: str, extra: str) -> dict[str, Any]:
    run_dir = args.out / name
    wall = timed(rlvr_command(args, steps, run_dir, extra), args.out / f"{name}.log", rlvr_env(), args.timeout)
    return {"wall_s": wall, "steps": check_rlvr_run(run_dir, args, steps)}


def run_trl(args: argparse.Namespace, steps: int, name: str) -> dict[str, Any]:
    out_dir = args.out / name
    out_dir.mkdir(parents=True)
    spec_file = out_dir / "spec.json"
    spec_file.write_text(json.dumps(trl_spec(args, steps, out_dir, args.out / "prompts.jsonl")))
    cmd = [str(args.trl_python), str(Path(__file__).resolve()), "trl-worker", str(spec_file)]
    wall = timed(cmd, args.out / f"{name}.log", trl_env(), args.timeout)
    return {"wall_s": wall, "steps": check_trl_run(out_dir / "result.json", args, steps)}


def names(args: argparse.Namespace) -> list[str]:
    """The runs of a round: TRL, then each rlvr configuration by label."""
    return ["trl", *(f"rlvr:{label}" for label in args.configs)]


def run_one(args: argparse.Namespace, name: str, steps: int, index: int) -> dict[str, Any]:
    safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", name)
    if name == "trl":
        return run_trl(args, steps, f"{safe}-r{index}-s{steps}")
    return run_rlvr(args, steps, f"{safe}-r{index}-s{steps}", args.configs[name.removeprefix("rlvr:")])


def run_round(args: argparse.Namespace, index: int) -> dict[str, dict[str, Any]]:
    """Every configuration at both step counts, alternating; the order rotates between rounds, so no
    configuration always runs first (or right after the same neighbour)."""
    order = names(args)
    shift = (index - 1) % len(order)
    order = order[shift:] + order[:shift]
    short, long = args.steps
    runs: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in order}
    for steps in (short, long):
        for name in order:
            log(f"round {index}: {name} {steps} steps...")
            load = os.getloadavg()[0]
            run = run_one(args, name, steps, index)
            runs[name][steps] = {**run, "loadavg_1min_before": load}
            log(f"round {index}: {name} {steps} steps took {run['wall_s']:.1f} s")
    out = {}
    for name in order:
        short_run, long_run = runs[name][short], runs[name][long]
        measured = [s for s in long_run["steps"] if s["step"] > short]
        out[name] = {
            "wall_s": {str(short): short_run["wall_s"], str(long): long_run["wall_s"]},
            "s_per_step": (long_run["wall_s"] - short_run["wall_s"]) / (long - short),
            "mean_length": statistics.fmean(s["mean_length"] for s in measured),
            "truncated_frac": statistics.fmean(s["truncated_frac"] for s in measured),
            "completions_per_step": measured[0]["completions"],
            "in_process_step_s_median": statistics.median(s["step_s"] for s in measured if s["step_s"] is not None),
            "loadavg_1min_before": {str(k): v["loadavg_1min_before"] for k, v in runs[name].items()},
            "steps": {str(k): v["steps"] for k, v in runs[name].items()},
        }
    return out


# ---- report ----------------------------------------------------------------------------------------------------
def summarize(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    all_names = list(rounds[0])
    for name in all_names:
        summary[name] = {
            "s_per_step_median": statistics.median(r[name]["s_per_step"] for r in rounds),
            "mean_length": statistics.fmean(r[name]["mean_length"] for r in rounds),
            "truncated_frac": statistics.fmean(r[name]["truncated_frac"] for r in rounds),
            "in_process_step_s_median": statistics.median(r[name]["in_process_step_s_median"] for r in rounds),
        }
    # A long run that took no longer than the short one means the machine's noise exceeds the steps measured:
    # such a round says nothing, and a ratio of non-positive medians would be nonsense.
    summary["noisy_rounds"] = [
        f"round {i} {name}" for i, r in enumerate(rounds, 1) for name in all_names if r[name]["s_per_step"] <= 0
    ]
    trl_s = summary["trl"]["s_per_step_median"]
    summary["ratio_trl_over_rlvr"] = {}
    for name in all_names:
        if name != "trl":
            rlvr_s = summary[name]["s_per_step_median"]
            ratio = trl_s / rlvr_s if rlvr_s > 0 and trl_s > 0 else None
            summary["ratio_trl_over_rlvr"][name.removeprefix("rlvr:")] = ratio
    return summary


def print_report(result: dict[str, Any]) -> None:
    a = result["args"]
    short, long = a["steps"]
    m = result["machine"]
    print(f"rlvr vs TRL GRPOTrainer [{a['label']}]: {a['prompts']} prompts x {a['group']} completions x "
          f"{a['max_tokens']} max new tokens, model {a['model']}")  # fmt: skip
    print(f"machine: {m['cpu_model']}, {m['cores_usable']}/{m['cores']} cores, {m['mem_gib']} GiB, {m['platform']}")
    for side in ("rlvr", "trl"):
        v = result["versions"][side]
        print(f"  {side:4} env: " + ", ".join(f"{k} {v[k]}" for k in sorted(v)))
    for label, extra in a["configs"].items():
        print(f"  rlvr:{label} overrides: {extra or '(none)'}")
    print(f"s/step = (wall({long} steps) - wall({short} steps)) / {long - short}, process wall clock; in-proc: the "
          "median step time each framework logs itself (rlvr time/step_s, TRL step_time), for reference; "
          "load1: the highest 1-minute load average before a run")  # fmt: skip
    print(f"{'round':>5}  {'framework':9} {f'wall {short}':>9} {f'wall {long}':>9} {'s/step':>8} "
          f"{'in-proc':>8} {'mean len':>8} {'compl/step':>10} {'load1':>5}")  # fmt: skip
    all_names = ["trl", *(f"rlvr:{label}" for label in a["configs"])]
    width = max(9, *(len(n) for n in all_names))
    for i, rnd in enumerate(result["rounds"], 1):
        for name in all_names:
            r = rnd[name]
            load = max(r["loadavg_1min_before"].values())
            walls = f"{r['wall_s'][str(short)]:9.1f} {r['wall_s'][str(long)]:9.1f}"
            print(f"{i:>5}  {name:{width}} {walls} {r['s_per_step']:8.3f} {r['in_process_step_s_median']:8.3f} "
                  f"{r['mean_length']:8.1f} {r['completions_per_step']:>10} {load:5.1f}")  # fmt: skip
    s = result["summary"]
    for name in all_names:
        x = s[name]
        print(f"median {name:{width}}: {x['s_per_step_median']:.3f} s/step "
              f"(in-proc {x['in_process_step_s_median']:.3f}); "
              f"measured steps: mean completion length {x['mean_length']:.1f} tokens, "
              f"{100 * x['truncated_frac']:.0f}% cut at max tokens")  # fmt: skip
    if s["noisy_rounds"]:
        print(f"warning: the long run took no longer than the short one in {', '.join(s['noisy_rounds'])}: noise "
              "exceeds the measured steps; quiet the machine, or raise --rounds or the step difference")  # fmt: skip
    for label, ratio in s["ratio_trl_over_rlvr"].items():
        if ratio is None:
            print(f"ratio TRL s/step / rlvr:{label} s/step: undefined (a median s/step is not positive)")
        else:
            print(f"ratio TRL s/step / rlvr:{label} s/step = {ratio:.2f} (> 1: rlvr is faster)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="local save_pretrained dir + train.jsonl")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, nargs=2, default=[5, 25], metavar=("SHORT", "LONG"))
    parser.add_argument("--prompts", type=int, default=8, help="prompts per step")
    parser.add_argument("--group", type=int, default=8, help="completions per prompt")
    parser.add_argument("--max-tokens", type=int, default=64, help="max new tokens per completion")
    parser.add_argument("--rlvr-overrides", default="", help="extra Hydra overrides for rlvr, e.g. 'rollout=vllm'")
    parser.add_argument("--label", default="default", help="name of this configuration in the output")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="LABEL=OVERRIDES",
        help="an rlvr configuration to run in the same rounds (repeat for several)",
    )
    parser.add_argument("--out", type=Path, help="output dir (default .bench/out/LABEL-TIME)")
    parser.add_argument("--trl-venv", type=Path, default=BENCH_DIR / "trl-venv")
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds before one run counts as hung")
    parser.add_argument("--json", action="store_true", help="also print everything as one JSON object, last line")
    args = parser.parse_args(argv)
    short, long = args.steps
    if not 1 <= short < long or args.rounds < 1 or min(args.prompts, args.max_tokens) < 1 or args.group < 2:
        parser.error("need 1 <= SHORT < LONG steps, --rounds >= 1, --prompts/--max-tokens >= 1, --group >= 2")
    args.model = args.model.expanduser().resolve()
    configs = [c.partition("=") for c in args.config] or [(args.label, "=", args.rlvr_overrides)]
    args.configs = {label: extra for label, _, extra in configs}
    if len(args.configs) != len(configs) or not all(args.configs) or any(sep != "=" for _, sep, _ in configs):
        parser.error("each --config is LABEL=OVERRIDES with a label of its own")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe_label = re.sub(r"[^A-Za-z0-9._=-]+", "_", args.label)
    args.out = (args.out or BENCH_DIR / "out" / f"{safe_label}-{stamp}").resolve()
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out} is not empty (every rlvr run needs a fresh run_dir)")
    return args


def main(argv: list[str]) -> None:
    if argv[:1] == ["trl-worker"]:
        trl_worker(argv[1])
        return
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    try:
        ensure_model(args.model)
        args.out.mkdir(parents=True, exist_ok=True)
        write_prompts(args.model, args.out / "prompts.jsonl")
        rlvr_versions = versions(sys.executable, rlvr_env())
        args.trl_python = ensure_trl_venv(args.trl_venv.resolve(), rlvr_versions["transformers"])
        trl_versions = versions(str(args.trl_python), trl_env())
        machine = machine_info()
        rounds = [run_round(args, i) for i in range(1, args.rounds + 1)]
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    machine["loadavg_end"] = os.getloadavg()
    arg_record = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    result = {
        "args": arg_record,
        "machine": machine,
        "versions": {"rlvr": rlvr_versions, "trl": trl_versions},
        "rounds": rounds,
        "summary": summarize(rounds),
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    print_report(result)
    print(f"everything in {args.out}/ (result.json, one log and one run dir per run)")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
