"""Shared fixtures: a small Qwen3-architecture model with its own tokenizer, built locally (never the hub).

`tiny_model_dir` is a briefly pretrained 2-layer model (about 15 s to build once per session) saved with
`save_pretrained`, so every test loads it through the same `from_pretrained` path users use for real
checkpoints. It writes `\\boxed{}` only sometimes, which is what the learning tests need.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the hub
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER") and "OMP_NUM_THREADS" not in os.environ:
    # N test processes share the cores: torch in each (and in the runs each starts) takes its share of threads.
    # Two processes of two threads on two cores spin-wait on each other (OpenMP) and ran the suite slower.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))

ROOT = Path(__file__).resolve().parents[1]
MATH500 = ROOT.parent / "shared" / "data" / "math500_test.json"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Built once per session; under pytest-xdist once for all workers (in their shared temp directory, under a
    file lock, written aside and renamed so that no worker ever sees half a model)."""
    import torch
    from filelock import FileLock

    from rlvr.tiny.pretrain import TinyBaseSpec, pretrain

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    out = root / "tiny-base"
    with FileLock(str(root / "tiny-base.lock")):
        if not out.exists():
            building = root / f"tiny-base.tmp-{os.getpid()}"
            threads = torch.get_num_threads()
            torch.set_num_threads(2)
            # the style mix the learning tests were written against (the demo's own defaults may move)
            spec = TinyBaseSpec(seed=0, num_layers=2, n_documents=3000, n_train=200, n_heldout=40, lr=3e-3,
                                p_steps=0.45, p_boxed=0.22, p_answer_phrase=1 / 3)  # fmt: skip
            pretrain(spec, building, log=lambda *_: None)
            torch.set_num_threads(threads)
            building.rename(out)
    return out


def tiny_overrides(model_dir: Path, run_dir: Path, *extra: str) -> list[str]:
    """Overrides that point the tiny recipe at the test model and keep runs short and quiet."""
    return [
        "experiment=tiny",
        f"model.path={model_dir}",
        f"data.path={model_dir / 'train.jsonl'}",
        f"eval.data.path={model_dir / 'heldout.jsonl'}",
        f"run_dir={run_dir}",
        "steps=2",
        "prompts_per_step=4",
        "rollout.group_size=4",
        "rollout.max_tokens=24",
        "eval.max_tokens=24",
        "tracking.wandb=disabled",
        "tracking.progress=false",
        "tracking.plots=false",  # ~3 s a run; tests of the plots turn them on
        # the barely-trained test model rambles past 24 tokens and moves a lot per step at the high learning
        # rates these short tests use: those two rules would fire on healthy test runs (tests of the monitor
        # itself set what they need)
        "monitor.length_runaway.enabled=false",
        "monitor.kl_spike.threshold=10",
        *extra,
    ]


def run_cli(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    """`rlvr <args>` in a subprocess, as a user would type it."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, "-m", "rlvr.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def run_cli_many(runs: list[tuple[list[str], Path]], timeout: float = 600) -> list[subprocess.CompletedProcess]:
    """Each `(args, cwd)` as `run_cli(*args, cwd=cwd)` would run it (own cwd, output and exit code), forked from
    one interpreter that imported rlvr once (tests/helpers/forked_cli.py): for the many command lines of the
    error tests, which would otherwise spend most of their time importing torch."""
    spec = json.dumps([{"args": list(args), "cwd": str(cwd)} for args, cwd in runs])
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    done = subprocess.run([sys.executable, "-m", "tests.helpers.forked_cli"], input=spec, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=True)  # fmt: skip
    return [
        subprocess.CompletedProcess(args, r["returncode"], r["stdout"], r["stderr"])
        for (args, _), r in zip(runs, json.loads(done.stdout.splitlines()[-1]), strict=True)
    ]


def require(name: str, available: bool, install: str) -> None:
    """Skip this test module when an optional dependency is missing, unless `make test` promised it
    (RLVR_REQUIRE_<NAME>=1): then its absence is a failure, never a silent skip."""
    if available:
        return
    if os.environ.get(f"RLVR_REQUIRE_{name.upper()}"):
        raise RuntimeError(f"{name} is required here (RLVR_REQUIRE_{name.upper()}=1) but missing: {install}")
    pytest.skip(f"{name} missing ({install})", allow_module_level=True)


def importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def pytest_collection_modifyitems(config, items):
    """Whole files, longest first (seconds from tests/durations.json; a file missing there counts as long when
    it holds slow tests), each file in its own order. With two test processes taking whole files (`make test`,
    `--no-loadscope-reorder` keeps this order) the long files start at once and the short ones fill in at the
    end, instead of one long file running on alone while the other process idles."""
    durations_file = Path(__file__).parent / "durations.json"
    known = json.loads(durations_file.read_text()) if durations_file.exists() else {}
    slow = {item.path for item in items if item.get_closest_marker("slow") or item.get_closest_marker("vllm")}
    default_slow = max(known.values(), default=0.0)  # unknown and slow: run it early, to be safe

    def seconds(item) -> float:
        relative = item.path.relative_to(ROOT).as_posix()
        return known.get(relative, default_slow if item.path in slow else 0.0)

    items.sort(key=lambda item: -seconds(item))  # a stable sort: each file's tests keep their order
