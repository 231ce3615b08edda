"""The colocated vLLM engine against the HF engine on the same weights, before and after a learner update,
and its recovery when the engine process is killed mid-generation."""

import os
import signal
import threading
import time

import pytest

from rlvr.rollout.actors import mapped_shm
from rlvr.rollout.base import SamplingParams
from rlvr.rollout.factory import make_engine as make_vllm_engine
from rlvr.rollout.processes import alive, shm_entries
from tests.vllm.conftest import GREEDY, Setup, max_logprob_gap, tokens

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def engine(setup):
    engine = make_vllm_engine(setup.cfg, setup.learner, setup.tokenizer)
    yield engine
    engine.close()


def test_greedy_matches_the_hf_engine(setup, engine):
    v, h = engine.generate(setup.samples, GREEDY), setup.hf.generate(setup.samples, GREEDY)
    assert tokens(v) == tokens(h)
    assert max_logprob_gap(v, h) < 1e-4
    assert [len(g) for g in v] == [2] * len(setup.samples)


def test_after_an_update_and_sync_vllm_follows_the_learner(setup, engine):
    before = tokens(engine.generate(setup.samples, GREEDY))
    setup.update()
    metrics = engine.update_weights(setup.learner.named_weights, setup.learner.version)
    assert metrics["rollout/sync_mb"] > 1.0 and metrics["rollout/sync_s"] > 0
    v, h = engine.generate(setup.samples, GREEDY), setup.hf.generate(setup.samples, GREEDY)
    assert tokens(v) == tokens(h)  # the updated weights reached the engine
    assert tokens(v) != before  # and they are not the old ones
    assert max_logprob_gap(v, h) < 1e-4
    assert {r.weight_version for g in v for r in g} == {setup.learner.version}


def test_sampling_is_seeded_and_reports_finish_reasons(setup, engine):
    params = SamplingParams(n=4, temperature=1.0, top_p=0.95, max_tokens=16, seed=11)
    a, b = engine.generate(setup.samples, params), engine.generate(setup.samples, params)
    assert tokens(a) == tokens(b) and [len(g) for g in a] == [4] * len(setup.samples)
    for r in (r for g in a for r in g):
        assert len(r.logprobs) == len(r.completion_ids) and all(lp <= 0 for lp in r.logprobs)
        assert r.finish_reason == ("length" if len(r.completion_ids) == 16 else "stop")


def test_a_killed_engine_is_restarted_with_the_current_weights(setup, engine):
    victims = [p.pid for p in engine._engine_processes]
    threading.Timer(1.0, lambda: [os.kill(pid, signal.SIGKILL) for pid in victims]).start()
    groups = engine.generate(setup.samples, SamplingParams(n=48, temperature=1.0, max_tokens=200, seed=3))
    assert engine.restarts == 1 and [len(g) for g in groups] == [48] * len(setup.samples)
    assert tokens(engine.generate(setup.samples, GREEDY)) == tokens(setup.hf.generate(setup.samples, GREEDY))


def test_lora_learner_syncs_merged_weights(setup, engine, tiny_model_dir, tmp_path):
    lora = Setup(tiny_model_dir, tmp_path, "model.lora.rank=8", "model.lora.alpha=16")
    base = tokens(lora.hf.generate(lora.samples, GREEDY))
    lora.update(steps=3, lr=5e-2)
    engine.update_weights(lora.learner.named_weights, 1000)
    try:
        v, h = engine.generate(lora.samples, GREEDY), lora.hf.generate(lora.samples, GREEDY)
        assert tokens(h) != base  # the adapter changed the policy
        assert tokens(v) == tokens(h) and max_logprob_gap(v, h) < 1e-4  # and the engine has base + adapter
    finally:  # the engine is shared by the module: give it back the weights of the other tests' learner
        engine.update_weights(setup.learner.named_weights, setup.learner.version)


def test_the_same_token_ids_give_the_same_text_in_both_engines(setup, engine):
    # vLLM's own text leaves the stop string out while transformers keeps it: the same tokens graded differently
    def both(stop):
        params = SamplingParams(n=1, temperature=0.0, max_tokens=24, stop=stop)
        v, h = engine.generate(setup.samples, params), setup.hf.generate(setup.samples, params)
        assert tokens(v) == tokens(h)
        assert [r.completion for g in v for r in g] == [r.completion for g in h for r in g]
        return v

    free = both(())
    # a character the model writes mid-completion (whatever the earlier tests' updates taught it) as a stop
    # string
    texts = [r.completion for g in free for r in g]
    stop = next(c for text in texts for c in text[1 : len(text) // 2] if not c.isspace())
    stopped = both((stop,))
    # stopped at the token that completes the stop string, which both keep in the text
    pairs = [(r, f) for g, fg in zip(stopped, free, strict=True) for r, f in zip(g, fg, strict=True)]
    hit = [(r, f) for r, f in pairs if stop in f.completion]
    assert hit
    for r, f in hit:
        assert stop in r.completion and r.finish_reason == "stop" and len(r.completion_ids) <= len(f.completion_ids)
    both(("}",))


def test_closing_the_engine_leaves_no_process_and_no_shared_memory(setup, engine):
    # the colocated engine runs vLLM's engine core and worker as processes of their own, which talk through
    # /dev/shm; closing it (what every exit path of a run does) must take both with it. Last in this module:
    # it closes the shared engine (closing twice, at the fixture's teardown, is harmless).
    tree = list(engine._engine_tree)
    shm = mapped_shm(tree)
    assert len(tree) >= 2 and shm, "no engine processes or shared memory found: the check would be empty"
    engine.close()
    deadline = time.monotonic() + 15
    while any(alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(p) for p in tree)
    assert shm & shm_entries() == set()
