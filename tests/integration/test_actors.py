"""Rollout actors with the HF engine: the same rollouts as the colocated engine, weights that follow the
learner, and recovery from an actor that dies, freezes or cannot start."""

import os
import shutil
import signal
import threading
import time

import pytest
import torch

from rlvr.batching import collate
from rlvr.config import compose
from rlvr.data import load_samples
from rlvr.errors import ConfigError
from rlvr.learner import Learner
from rlvr.model import load_model, load_tokenizer
from rlvr.rollout.actors import ActorGroup
from rlvr.rollout.base import RolloutError, SamplingParams
from rlvr.rollout.factory import make_engine
from rlvr.rollout.hf import HFEngine
from rlvr.rollout.processes import alive
from tests.conftest import importable, require, tiny_overrides

GREEDY = SamplingParams(n=2, temperature=0.0, max_tokens=24)
LONG = SamplingParams(n=16, temperature=1.0, max_tokens=200, seed=3)


def tokens(groups):
    return [r.completion_ids for g in groups for r in g]


class Setup:
    def __init__(self, model_dir, run_dir, *overrides):
        actor = ("rollout.mode=actor", "rollout.actor_backend=process", "rollout.threads=1")
        self.cfg = compose(tiny_overrides(model_dir, run_dir, *actor, *overrides))
        self.tokenizer = load_tokenizer(self.cfg.model)
        self.learner = Learner(self.cfg, load_model(self.cfg.model, torch.device("cpu")), torch.device("cpu"))
        self.hf = HFEngine(self.learner.model, self.tokenizer)
        self.samples = load_samples(self.cfg.data, self.tokenizer)[:6]

    def update(self, lr: float = 5e-2) -> None:
        """Real learner updates with a large learning rate, so that greedy outputs change."""
        rollouts = [r for g in self.hf.generate(self.samples, SamplingParams(n=4, max_tokens=20, seed=1)) for r in g]
        batch = collate(rollouts, torch.linspace(-1, 1, len(rollouts)), torch.ones(len(rollouts)), 0)
        for group in self.learner.optimizer.param_groups:
            group["lr"] = lr
        for _ in range(3):
            self.learner.step(batch)


@pytest.fixture(scope="module")
def two_actors(tiny_model_dir, tmp_path_factory):
    setup = Setup(tiny_model_dir, tmp_path_factory.mktemp("actors"), "rollout.actors=2")
    engine = make_engine(setup.cfg, setup.learner, setup.tokenizer)
    yield setup, engine
    engine.close()
    assert not any(alive(pid) for actor in engine.actors for pid in actor.handle.info["tree"])


def test_actors_give_the_colocated_engines_rollouts_and_follow_the_learner(two_actors):
    setup, engine = two_actors
    assert tokens(engine.generate(setup.samples, GREEDY)) == tokens(setup.hf.generate(setup.samples, GREEDY))
    before = tokens(engine.generate(setup.samples, GREEDY))
    setup.update()
    metrics = engine.update_weights(setup.learner.named_weights, setup.learner.version)
    assert metrics["rollout/sync_mb"] > 1.0
    after = engine.generate(setup.samples, GREEDY)
    assert tokens(after) == tokens(setup.hf.generate(setup.samples, GREEDY)) != before
    assert {r.weight_version for g in after for r in g} == {setup.learner.version}
    hf = setup.hf.generate(setup.samples, GREEDY)
    pairs = zip([r for g in after for r in g], [r for g in hf for r in g], strict=True)
    gap = max(abs(a - b) for ra, rb in pairs for a, b in zip(ra.logprobs, rb.logprobs, strict=True))
    assert gap < 1e-4  # the engine's sampling log-probs are the learner's


def test_a_killed_actor_is_restarted_with_the_current_weights_and_its_prompts_reissued(two_actors):
    setup, engine = two_actors
    victim = engine.actors[1].handle.process.pid
    threading.Timer(0.5, os.kill, (victim, signal.SIGKILL)).start()
    groups = engine.generate(setup.samples, LONG)
    assert [len(g) for g in groups] == [16] * len(setup.samples)
    assert engine.actors[1].restarts == 1 and engine.actors[1].handle.process.pid != victim
    [event] = engine.events()
    assert event["event"] == "rollout_restart" and event["actor"] == 1 and "died" in event["reason"]
    # it came back with the learner's current (updated) weights, not the model it was started from
    assert tokens(engine.generate(setup.samples, GREEDY)) == tokens(setup.hf.generate(setup.samples, GREEDY))


def test_a_frozen_actor_is_restarted_after_the_timeout(two_actors, monkeypatch):
    setup, engine = two_actors
    monkeypatch.setattr(setup.cfg.rollout, "timeout_s", 4.0)  # read at every request; short greedy requests
    victim = engine.actors[0].handle.process.pid
    os.kill(victim, signal.SIGSTOP)
    start = time.monotonic()
    groups = engine.generate(setup.samples, GREEDY)
    assert 4 <= time.monotonic() - start < 60
    assert tokens(groups) == tokens(setup.hf.generate(setup.samples, GREEDY))
    [event] = engine.events()
    assert event["actor"] == 0 and "frozen" in event["reason"] and "rollout.timeout_s" in event["reason"]
    assert not alive(victim)  # a stopped process is killed, not left behind


def test_an_actor_that_cannot_start_reports_why(tiny_model_dir, tmp_path):
    """Bad input the actor finds as it loads (a model path that is not there) is the driver's one-line
    ConfigError (exit 2); any other start failure is a RolloutError naming the actor and the cause."""
    setup = Setup(tiny_model_dir, tmp_path)
    broken = compose(tiny_overrides(tiny_model_dir, tmp_path, "rollout.mode=actor", f"model.path={tmp_path}/gone"))
    with pytest.raises(ConfigError, match=r"^model path not found: .*/gone"):
        ActorGroup(broken, "process", torch.float32)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_model_dir, corrupt)
    with open(corrupt / "model.safetensors", "r+b") as weights:
        weights.truncate(1000)  # a download cut short
    cut = compose(tiny_overrides(tiny_model_dir, tmp_path, "rollout.mode=actor", f"model.path={corrupt}"))
    with pytest.raises(ConfigError, match=r"^cannot load model .*corrupt.*header"):
        ActorGroup(cut, "process", torch.float32)
    slow = compose(tiny_overrides(tiny_model_dir, tmp_path, "rollout.mode=actor", "rollout.start_timeout_s=0.01"))
    with pytest.raises(RolloutError, match=r"rollout actor 0 \(process\) failed to start: not ready after 0.01 s"):
        ActorGroup(slow, "process", torch.float32)
    del setup


def test_the_ray_cluster_started_for_the_actors_outlives_their_start_threads(tiny_model_dir, tmp_path):
    # Ray starts its local GCS and raylet with PR_SET_PDEATHSIG, which fires when the *thread* that started them
    # ends: started from an actor's start thread, the cluster was gone a second later and the run died 60 s after
    require("ray", importable("ray"), "pip install 'rlvr[ray]'")
    import ray

    from rlvr.rollout.processes import descendants

    if ray.is_initialized():
        ray.shutdown()
    overrides = ("rollout.mode=actor", "rollout.actor_backend=ray", "rollout.threads=1")
    group = ActorGroup(compose(tiny_overrides(tiny_model_dir, tmp_path, *overrides)), "ray", torch.float32)
    try:
        time.sleep(2)  # the start threads have ended; the cluster's processes are this process's children

        def comm(pid: int) -> str:
            try:
                with open(f"/proc/{pid}/comm") as f:
                    return f.read().strip()
            except OSError:
                return ""

        running = {comm(pid) for pid in descendants(os.getpid()) if alive(pid)}
        assert {"gcs_server", "raylet"} <= running, running
    finally:
        group.close()
        ray.shutdown()
