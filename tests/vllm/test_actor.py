"""vLLM in its own process (a subprocess, and a Ray actor): rollouts and weights cross the boundary."""

import os
import signal
import threading

import pytest

from rlvr.rollout.base import SamplingParams
from rlvr.rollout.vllm import make_vllm_engine
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


def test_subprocess_actor(tiny_model_dir, tmp_path):
    setup = Setup(tiny_model_dir, tmp_path, "rollout.mode=actor", "rollout.actor_backend=process")
    engine = make_vllm_engine(setup.cfg, setup.learner, setup.tokenizer)
    try:
        assert engine.actor.process.pid != os.getpid()
        check_follows_the_learner(setup, engine)
        # the engine process dies mid-generation: restarted, current weights reloaded, generation retried
        pid = engine.actor.process.pid
        threading.Timer(1.0, lambda: os.kill(pid, signal.SIGKILL)).start()
        groups = engine.generate(setup.samples, SamplingParams(n=48, temperature=1.0, max_tokens=200, seed=3))
        assert engine.restarts == 1 and engine.actor.process.pid != pid
        assert [len(g) for g in groups] == [48] * len(setup.samples)
        assert tokens(engine.generate(setup.samples, GREEDY)) == tokens(setup.hf.generate(setup.samples, GREEDY))
    finally:
        engine.close()


def test_ray_actor(tiny_model_dir, tmp_path):
    require("ray", importable("ray"), "pip install 'rlvr[ray]'")
    setup = Setup(tiny_model_dir, tmp_path, "rollout.mode=actor", "rollout.actor_backend=ray")
    engine = make_vllm_engine(setup.cfg, setup.learner, setup.tokenizer)
    try:
        check_follows_the_learner(setup, engine)
    finally:
        engine.close()
        import ray

        ray.shutdown()
