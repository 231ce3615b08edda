"""`cluster=ray` placement (`rlvr.distributed.cluster.plan`): the bundles Ray reserves for a run and each
process's slot in them, for the layouts a GPU cluster uses (not available here) and the CPU one the
integration tests run. Expected values are written out by hand from the rules in the module docstring. And
cluster=ray without Ray installed is one line."""

import sys

import pytest

from rlvr.config import compose
from rlvr.distributed.cluster import Plan, RayCluster, Slot, plan
from rlvr.errors import ConfigError
from rlvr.rollout import factory


def layout(*overrides: str) -> Plan:
    return plan(compose(["cluster=ray", "model.path=unused", "threads=1", "rollout.threads=1", *overrides]))


def test_cpu_cluster_one_bundle_per_rank_and_actor_with_their_threads():
    p = layout("learner.world_size=2", "rollout.mode=actor", "rollout.actors=2", "threads=3", "rollout.threads=2")
    assert p.bundles == [{"CPU": 3.0}, {"CPU": 3.0}, {"CPU": 2.0}, {"CPU": 2.0}]
    assert p.ranks == [Slot(0, 0.0, 3.0), Slot(1, 0.0, 3.0)]
    assert p.actors == [Slot(2, 0.0, 2.0), Slot(3, 0.0, 2.0)]
    assert p.needs() == {"CPU": 10.0}


def test_actors_on_gpus_of_their_own():
    p = layout(
        "cluster.gpus_per_node=8", "learner.world_size=4", "rollout.mode=actor", "rollout.actors=2",
        "cluster.actor_gpus=2", "rollout.tensor_parallel_size=2",
    )  # fmt: skip
    assert p.bundles == [{"GPU": 1.0, "CPU": 1.0}] * 4 + [{"GPU": 2.0, "CPU": 1.0}] * 2
    assert [s.gpus for s in p.ranks] == [1.0] * 4 and [s.bundle for s in p.ranks] == [0, 1, 2, 3]
    assert p.actors == [Slot(4, 2.0, 1.0), Slot(5, 2.0, 1.0)]
    assert p.needs() == {"GPU": 8.0, "CPU": 6.0}


def test_colocated_actors_share_the_ranks_gpus():
    p = layout("cluster.gpus_per_node=2", "learner.world_size=2", "rollout.mode=actor", "rollout.actors=4")
    # each rank's GPU: half for the rank, the other half split between the two actors dealt to it
    assert p.bundles == [{"GPU": 1.0, "CPU": 3.0}, {"GPU": 1.0, "CPU": 3.0}]
    assert p.ranks == [Slot(0, 0.5, 1.0), Slot(1, 0.5, 1.0)]
    assert p.actors == [Slot(0, 0.25, 1.0), Slot(1, 0.25, 1.0), Slot(0, 0.25, 1.0), Slot(1, 0.25, 1.0)]


def test_gpu_layouts_ray_could_not_honour_are_refused():
    # one learner runs in the driver, outside the placement group: Ray could put an actor on its GPU
    with pytest.raises(ConfigError, match="one learner runs in this process, outside Ray's placement"):
        layout("cluster.gpus_per_node=2", "rollout.mode=actor", "rollout.actors=1", "cluster.actor_gpus=1")
    # a bundle never spans nodes
    with pytest.raises(ConfigError, match=r"actor_gpus=4 does not fit on a node of cluster\.gpus_per_node=2"):
        layout(
            "cluster.gpus_per_node=2", "cluster.nodes=4", "learner.world_size=2", "rollout.mode=actor",
            "cluster.actor_gpus=4", "rollout.tensor_parallel_size=4",
        )  # fmt: skip


def test_a_colocated_engine_and_one_learner_reserve_nothing():
    assert layout() == Plan([], [], [])


def test_cluster_ray_without_ray_installed_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ConfigError, match=r"^cluster=ray needs Ray: pip install 'rlvr\[ray\]'$"):
        RayCluster(compose(["cluster=ray", "model.path=unused"]))
    # the rollout check runs first, and names what the user asked for (not rollout.actor_backend, left at auto)
    with pytest.raises(ConfigError, match=r"^cluster=ray needs Ray: pip install 'rlvr\[ray\]'$"):
        factory.check(compose(["cluster=ray", "rollout.mode=actor", "model.path=unused"]))
