"""vLLM in actor processes (a subprocess, and a Ray actor receiving broadcast weights): rollouts and weights cross the
boundary, a killed actor is replaced, and an error that is not a death is reported at once instead of restarting the
engine. The engine core runs inside the actor process (tensor_parallel_size 1): the actor is the whole engine, so
killing it leaves nothing behind; the colocated engine's own processes and shared memory are checked in
test_colocate.py."""

import os
import signal
import threading
import time

import pytest

from rlvr.rollout.actors import mapped_shm
from rlvr.rollout.base import RolloutError, SamplingParams
from rlvr.rollout.factory import make_engine
from rlvr.rollout.processes import alive, shm_entries
from rlvr.types import Sample
from tests.conftest import importable, require
from tests.vllm.conftest import GREEDY, Setup, max_logprob_gap, tokens

pytestmark = pytest.mark.vllm


def check_follows_the_learner(setup: Setup, engine) -> None:
    assert tokens(engine.generate(setup.samples, GREEDY)) == tokens(setup.hf.generate(setup.samples, GREEDY))
    setup.update()
    engine.update_weights(setup.learner.named_weights, setup.learner.version)
    v, h = engine.generate(setup.samples, GREEDY), setup.hf.generate(setup.samples, GREEDY)
    assert tokens(v) == tokens(h) and max_logprob_gap(v, h) < 1e-4
    assert {r.weight_version for g in v for r in g} == {setup.learner.version}


def footprint(engine) -> tuple[list[int], set[str]]:
    """The actors' processes and the /dev/shm entries they map (attributed by mapping, not by a before/after
    listing: other programs on the machine create /dev/shm entries too)."""
    trees = [pid for actor in engine.actors for pid in actor.handle.info["tree"]]
    return trees, set(mapped_shm(trees))


def test_subprocess_actor(tiny_model_dir, tmp_path):
    setup = Setup(
        tiny_model_dir, tmp_path, "rollout.mode=actor", "rollout.actor_backend=process", "rollout.max_model_len=256"
    )
    engine = make_engine(setup.cfg, setup.learner, setup.tokenizer)
    trees, shm = [], set()
    try:
        handle = engine.actors[0].handle
        assert handle.process.pid != os.getpid()
        check_follows_the_learner(setup, engine)
        # the actor process dies mid-generation: replaced, current weights reloaded, generation issued again
        pid = handle.process.pid
        tree, shm = footprint(engine)
        assert tree == [pid], "the engine core should run inside the actor process, not in processes of its own"
        trees.append(tree)
        threading.Timer(1.0, lambda: os.kill(pid, signal.SIGKILL)).start()
        groups = engine.generate(setup.samples, SamplingParams(n=48, temperature=1.0, max_tokens=200, seed=3))
        assert engine.restarts == 1 and engine.actors[0].handle.process.pid != pid
        assert [len(g) for g in groups] == [48] * len(setup.samples)
        assert tokens(engine.generate(setup.samples, GREEDY)) == tokens(setup.hf.generate(setup.samples, GREEDY))
        assert not any(alive(p) for p in trees[0])  # the killed actor's engine core did not outlive it
        # a prompt vLLM refuses (longer than max_model_len) is the caller's error: raised at once, no restart
        long = [Sample(id="long", prompt="1 + 1 = 2. " * 300)]
        start = time.monotonic()
        with pytest.raises(RolloutError, match="rollout actor 0: generate failed"):
            engine.generate(long, GREEDY)
        assert engine.restarts == 1 and time.monotonic() - start < 30
        tree, more = footprint(engine)
        trees.append(tree)
        shm |= more
    finally:
        engine.close()
    assert not any(alive(p) for tree in trees for p in tree)
    assert shm & shm_entries() == set()  # whatever shared memory the actors mapped went with them


def test_ray_actor_receiving_broadcast_weights(tiny_model_dir, tmp_path):
    """The vLLM worker receives the weights itself (`rlvr_receive_weights`) over the gloo group, at the Ray
    node's address; no version falls back to a file."""
    require("ray", importable("ray"), "pip install 'rlvr[ray]'")
    transport = "rollout.weight_transport=broadcast"
    setup = Setup(tiny_model_dir, tmp_path, "rollout.mode=actor", "rollout.actor_backend=ray", transport)
    engine = make_engine(setup.cfg, setup.learner, setup.tokenizer)
    try:
        check_follows_the_learner(setup, engine)
        assert engine.events() == [] and engine.sender.members == ["actor0.0.w0"]
        tree, shm = footprint(engine)
        engine.actors[0].handle.kill()  # a killed Ray actor: its engine and shared memory must go too
        assert not any(alive(p) for p in tree)
        assert shm & shm_entries() == set()
    finally:
        engine.close()
        import ray

        ray.shutdown()
