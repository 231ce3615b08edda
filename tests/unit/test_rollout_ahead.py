"""The rollout queue (generation ahead of the learner), the actors' prompt split and GPU plan, and sampling
filters, on fakes whose behaviour is known by construction."""

import os

import pytest
import torch

from rlvr.config import compose
from rlvr.data import PromptSampler
from rlvr.errors import ConfigError
from rlvr.rollout import actors, factory
from rlvr.rollout.actors import ActorGroup, _visible_gpus, actor_gpus, split
from rlvr.rollout.ahead import RolloutQueue
from rlvr.rollout.base import Done, RolloutError, SamplingParams
from rlvr.rollout.hf import filter_logits
from rlvr.types import Rollout, Sample

SAMPLES = [Sample(id=str(i), prompt=f"p{i}") for i in range(100)]


class VersionedEngine:
    """Answers each request with one rollout per sample, tagged with the weight version it holds when the
    request is *submitted* (what an actor serving requests in order would use), and records the requests."""

    def __init__(self) -> None:
        self.weight_version = 0
        self.submitted: list[tuple[int, list[str]]] = []

    def submit(self, samples, params):
        self.submitted.append((self.weight_version, [s.id for s in samples]))
        rollouts = [[Rollout(s, [1], [2], "x", [-0.1], "stop", self.weight_version)] for s in samples]
        return Done(rollouts)


def queue(engine, k, last_step=10):
    sampler = PromptSampler(SAMPLES, shuffle=False, seed=0)
    return RolloutQueue(
        engine, sampler, lambda step: SamplingParams(seed=step), prompts_per_step=2, max_staleness=k,
        last_step=last_step,
    ), sampler  # fmt: skip


@pytest.mark.parametrize("k", [0, 1, 2])
def test_batches_are_requested_as_far_ahead_as_the_bound_allows_and_no_further(k):
    engine = VersionedEngine()
    q, _ = queue(engine, k)
    for step in range(1, 7):
        version = step - 1  # the learner has made step - 1 updates when it trains on step
        _, params, groups = q.take(step, version)
        assert params.seed == step
        staleness = version - groups[0][0].weight_version
        assert staleness == min(k, step - 1)  # k steps behind once the pipeline is full, never more
        engine.weight_version = version + 1  # the learner updates and syncs
        q.fill(step + 1, version + 1)
        assert [b.step for b in q.in_flight] == list(range(step + 1, min(step + 1 + k, 10) + 1))


def test_the_staleness_bound_is_checked_not_assumed():
    engine = VersionedEngine()
    q, _ = queue(engine, 1)
    q.take(1, 0)
    q.fill(2, 0)
    with pytest.raises(RuntimeError, match=r"beyond rollout\.max_staleness=1"):
        q.take(2, 5)  # a learner five versions on: the batch (version 0) is too old


def test_drop_gives_the_prompts_of_abandoned_batches_back_in_order():
    engine = VersionedEngine()
    q, sampler = queue(engine, 2)
    samples, _, _ = q.take(1, 0)
    assert [s.id for s in samples] == ["0", "1"]
    assert [b.step for b in q.in_flight] == [2, 3]  # prompts 2-5 are out, in flight
    q.drop()
    assert not q.in_flight and sampler.state_dict() == {"epoch": 0, "position": 2}
    samples, _, _ = q.take(2, 1)
    assert [s.id for s in samples] == ["2", "3"]  # regenerated from the same prompts, with fresh weights


def test_nothing_is_requested_past_the_last_step():
    engine = VersionedEngine()
    q, _ = queue(engine, 3, last_step=2)
    q.take(1, 0)
    assert [b.step for b in q.in_flight] == [2]


def test_prompts_are_split_evenly_and_in_order():
    assert split(SAMPLES[:8], 2) == [(0, 4), (4, 8)]
    assert split(SAMPLES[:7], 3) == [(0, 3), (3, 5), (5, 7)]
    assert split(SAMPLES[:1], 3) == [(0, 1)]  # fewer prompts than actors: the others get nothing


def test_steps_with_fewer_prompts_than_actors_take_turns_on_them():
    """One prompt a step and two actors: step s+1, generated ahead, must not queue behind step s on actor 0."""

    class RecordingActor:
        def __init__(self) -> None:
            self.requests: list[tuple[list[str], int | None]] = []

        def submit(self, command, samples, params):
            self.requests.append(([s.id for s in samples], params.seed))
            return len(self.requests)

    group = ActorGroup.__new__(ActorGroup)  # the split and the turns only: no processes
    group.actors, group._first_actor = [RecordingActor(), RecordingActor()], 0
    for step in range(3):
        group.submit(SAMPLES[step : step + 1], SamplingParams(seed=step))
    group.submit(SAMPLES[10:13], SamplingParams(seed=7))  # 3 prompts: slices of 2 and 1, from actor 1 on
    # seeds follow the slice's position (seed * 31 + i), not the actor: a run does not depend on whose turn it was
    assert group.actors[0].requests == [(["0"], 0), (["2"], 2 * 31), (["12"], 7 * 31 + 1)]
    assert group.actors[1].requests == [(["1"], 1 * 31), (["10", "11"], 7 * 31)]


def test_actor_gpus():
    assert actor_gpus(2, 1, 0) == [(), ()]  # CPU
    assert actor_gpus(2, 1, 3) == [(1,), (2,)]  # the learner keeps GPU 0
    assert actor_gpus(2, 1, 4, learner_gpus=2) == [(2,), (3,)]  # two ranks keep GPUs 0 and 1
    assert actor_gpus(2, 1, 3, learner_gpus=2) == [(0,), (1,)]  # too few: shared
    assert actor_gpus(2, 2, 4) == [(0, 1), (2, 3)]  # not enough for a GPU of its own: share the learner's
    with pytest.raises(RolloutError, match="do not fit"):
        actor_gpus(3, 2, 4)


def test_actors_that_do_not_fit_the_gpus_are_refused_before_the_run_starts(monkeypatch):
    monkeypatch.setattr(actors, "cuda_devices", lambda: 4)
    cfg = compose(["rollout.mode=actor", "rollout.actors=5", "model.path=unused"])
    with pytest.raises(ConfigError, match=r"rollout.actors=5 x rollout.tensor_parallel_size=1 GPUs do not fit on 4"):
        factory.check(cfg)
    factory.check(compose(["rollout.mode=actor", "rollout.actors=4", "model.path=unused"]))  # these share GPU 0..3


def test_a_childs_gpus_are_named_through_the_users_visible_devices(monkeypatch):
    """actor_gpus counts this process's devices; under CUDA_VISIBLE_DEVICES=4,5 its device 1 is GPU 5."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
    with _visible_gpus((1,)):
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "5"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "4,5"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    with _visible_gpus((0, 1)):
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_top_k_and_top_p_filters_by_hand():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = lambda x: torch.isfinite(x).squeeze(0).tolist()  # noqa: E731
    assert kept(filter_logits(logits, top_k=2, top_p=1.0)) == [True, True, False, False]
    # top_p 0.7: 0.5 alone is below, 0.5 + 0.3 reaches it: keep two
    assert kept(filter_logits(logits, top_k=0, top_p=0.7)) == [True, True, False, False]
    assert kept(filter_logits(logits, top_k=0, top_p=0.81)) == [True, True, True, False]
    assert kept(filter_logits(logits, top_k=0, top_p=0.1)) == [True, False, False, False]  # the top one stays
    shuffled = logits[:, [2, 0, 3, 1]]  # order of the vocabulary must not matter
    assert kept(filter_logits(shuffled, top_k=0, top_p=0.7)) == [False, True, False, True]
