"""`rollout.weight_transport=broadcast` with HF actors: weights reach every actor over the gloo group (no weight
file is written), an actor that was replaced loads the current weights from a file and joins the next group,
and a version that cannot reach a dead actor goes by file instead."""

import os
import signal
import time

import pytest

from rlvr.rollout.factory import make_engine
from rlvr.rollout.processes import alive
from rlvr.rollout.weights import remove_files_of
from tests.integration.test_actors import GREEDY, LONG, Setup, tokens


def weight_files() -> list[str]:
    return [p for d in ("/dev/shm", "/tmp") if os.path.isdir(d) for p in os.listdir(d) if p.startswith("rlvr-weights-")]


def kill(actor) -> None:
    os.kill(actor.handle.process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while actor.alive() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def broadcast_actors(tiny_model_dir, tmp_path_factory):
    setup = Setup(
        tiny_model_dir,
        tmp_path_factory.mktemp("bcast"),
        "rollout.actors=2",
        "rollout.weight_transport=broadcast",
        "rollout.timeout_s=60",
    )
    engine = make_engine(setup.cfg, setup.learner, setup.tokenizer)
    yield setup, engine
    engine.close()
    assert not any(alive(pid) for actor in engine.actors for pid in actor.handle.info["tree"])


def test_broadcast_weights_reach_every_actor_without_a_file(broadcast_actors):
    setup, engine = broadcast_actors
    assert engine.sender is not None and engine.sender.generation == 1  # the first sync, at start
    setup.update()
    before = set(weight_files())
    metrics = engine.update_weights(setup.learner.named_weights, setup.learner.version)
    assert metrics["rollout/sync_mb"] > 1.0 and metrics["rollout/sync_mb_per_s"] > 0
    assert not [f for f in set(weight_files()) - before if f.startswith(f"rlvr-weights-{os.getpid()}-")]
    after, hf = engine.generate(setup.samples, GREEDY), setup.hf.generate(setup.samples, GREEDY)
    assert tokens(after) == tokens(hf)
    assert {r.weight_version for g in after for r in g} == {setup.learner.version}
    pairs = zip([r for g in after for r in g], [r for g in hf for r in g], strict=True)
    gap = max(abs(a - b) for ra, rb in pairs for a, b in zip(ra.logprobs, rb.logprobs, strict=True))
    assert gap < 1e-4  # the learner's weights, to float precision
    assert engine.events() == [] and engine.sender.generation == 1


def test_a_replaced_actor_loads_the_current_weights_and_joins_the_next_group(broadcast_actors):
    setup, engine = broadcast_actors
    kill(engine.actors[1])
    groups = engine.generate(setup.samples, LONG)
    assert [len(g) for g in groups] == [16] * len(setup.samples)
    [event] = engine.events()
    assert event["event"] == "rollout_restart" and engine.actors[1].member == "actor1.1"
    # the replacement loaded the version broadcast before it started, from a file written for it
    assert tokens(engine.generate(setup.samples, GREEDY)) == tokens(setup.hf.generate(setup.samples, GREEDY))
    setup.update()
    engine.update_weights(setup.learner.named_weights, setup.learner.version)
    assert engine.events() == [] and engine.sender.generation == 2  # a new group, with the new process in it
    assert engine.sender.members == ["actor0.0.w0", "actor1.1.w0"]
    assert tokens(engine.generate(setup.samples, GREEDY)) == tokens(setup.hf.generate(setup.samples, GREEDY))


def test_a_version_that_cannot_reach_a_dead_actor_goes_by_file(broadcast_actors):
    setup, engine = broadcast_actors
    kill(engine.actors[0])
    setup.update()
    engine.update_weights(setup.learner.named_weights, setup.learner.version)
    [failed] = engine.events()
    assert failed["event"] == "weights_broadcast_failed" and "actor 0 is not running" in failed["reason"]
    groups = engine.generate(setup.samples, GREEDY)  # actor 0 is replaced here and loads that file
    assert tokens(groups) == tokens(setup.hf.generate(setup.samples, GREEDY))
    assert {r.weight_version for g in groups for r in g} == {setup.learner.version}
    assert [e["event"] for e in engine.events()] == ["rollout_restart"]
    setup.update()
    engine.update_weights(setup.learner.named_weights, setup.learner.version)  # broadcast again, a new group
    assert engine.events() == [] and engine.sender.members == ["actor0.1.w0", "actor1.1.w0"]
    assert tokens(engine.generate(setup.samples, GREEDY)) == tokens(setup.hf.generate(setup.samples, GREEDY))
    remove_files_of(os.getpid())
