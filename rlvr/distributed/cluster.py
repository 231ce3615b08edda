"""`cluster=ray`: Ray places the run's learner ranks and rollout actors, on one machine or many.

Reward calls run on `reward_workers` one-CPU Ray actors spread over the cluster (`rewards.pool.RayCalls`);
the check before the start counts their CPUs.

Everything is reserved at once in one Ray placement group (verl and OpenRLHF do the same): a bundle per learner
rank (a GPU each, or `threads` CPU cores), a bundle per rollout actor that has GPUs of its own
(`cluster.actor_gpus`) or, on a CPU cluster, `rollout.threads` cores. Actors with `cluster.actor_gpus=0` share a
learner rank's bundle and GPU (colocated). The group is packed (`PACK`: as few nodes as possible), so ranks sit
next to each other and to the actors they share a GPU with. A run either gets all of it or a one-line error
after `cluster.timeout_s`: no half-placed run waits forever on a cluster that is too small.

With `cluster=local` none of this exists: ranks and actors are subprocesses of the driver
(`rlvr.rollout.actors.ProcessHandle`). Processes are never placed by hand here; this module only tells Ray what
each process needs (`RayCluster.options`)."""

from __future__ import annotations

import contextlib
import math
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlvr.config import TrainConfig
from rlvr.errors import ConfigError
from rlvr.rollout.actors import start_ray


@dataclass(frozen=True)
class Slot:
    """What one process asks Ray for: its bundle of the placement group, and its share of that bundle."""

    bundle: int
    gpus: float
    cpus: float


@dataclass(frozen=True)
class Plan:
    """The placement group's bundles and each process's slot in it (a pure function of the config: `plan`)."""

    bundles: list[dict[str, float]]
    ranks: list[Slot]  # empty at learner.world_size=1: the learner is the driver process
    actors: list[Slot]

    def needs(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for bundle in self.bundles:
            for resource, amount in bundle.items():
                total[resource] = total.get(resource, 0.0) + amount
        return total


COLOCATED_RANK_GPU = 0.5  # a rank's share of a GPU it shares with actors; the actors split the rest


def plan(cfg: TrainConfig) -> Plan:
    """The bundles of a run (see the module docstring). Ray's GPU shares only decide placement: the engines
    themselves are held to `rollout.gpu_memory_utilization`."""
    on_gpu = cfg.cluster.gpus_per_node > 0
    world_size = cfg.learner.world_size
    actors = cfg.rollout.actors if cfg.rollout.mode == "actor" else 0
    rank_cpus = float(max(1, cfg.threads))
    actor_cpus = float(max(1, cfg.rollout.threads))
    bundles: list[dict[str, float]] = []
    ranks: list[Slot] = []
    if world_size > 1:
        colocated = on_gpu and actors > 0 and cfg.cluster.actor_gpus == 0
        for _ in range(world_size):
            ranks.append(Slot(len(bundles), (COLOCATED_RANK_GPU if colocated else 1.0) if on_gpu else 0.0, rank_cpus))
            bundles.append({"GPU": 1.0, "CPU": rank_cpus} if on_gpu else {"CPU": rank_cpus})
    slots: list[Slot] = []
    if on_gpu and cfg.cluster.actor_gpus == 0 and actors:  # colocated: dealt round the ranks' GPUs
        hosts = [slot.bundle for slot in ranks]  # never empty: the config wants world_size >= 2 here
        per_host = -(-actors // len(hosts))
        share = (1.0 - COLOCATED_RANK_GPU) / per_host
        for i in range(actors):
            host = hosts[i % len(hosts)]
            bundles[host]["CPU"] += actor_cpus
            slots.append(Slot(host, share, actor_cpus))
    else:
        for _ in range(actors):
            gpus = float(cfg.cluster.actor_gpus) if on_gpu else 0.0
            slots.append(Slot(len(bundles), gpus, actor_cpus))
            bundles.append({"GPU": gpus, "CPU": actor_cpus} if on_gpu else {"CPU": actor_cpus})
    return Plan(bundles, ranks, slots)


def ray_address_file_target() -> str | None:
    """The host:port `address=auto` would join: $RAY_ADDRESS, else the cluster `ray start` recorded here."""
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    recorded = Path("/tmp/ray/ray_current_cluster")
    with contextlib.suppress(OSError):
        return recorded.read_text().strip() or None
    return None


def check_reachable(address: str) -> None:
    """A one-line error when nothing answers at the cluster's address: `ray.init` itself retries forever."""
    target = ray_address_file_target() if address == "auto" else address.removeprefix("ray://")
    if target is None:
        raise ConfigError("cluster.address=auto: no Ray cluster runs on this machine (start one: ray start --head)")
    host, _, port = target.rpartition(":") if ":" in target else (target, "", "6379")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cluster.address={address}: no Ray cluster answers at {target} ({exc})") from None


class RayCluster:
    """The run's placement group on a Ray cluster (joined, or started for the run), and each process's options."""

    def __init__(self, cfg: TrainConfig) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("cluster=ray needs Ray: pip install 'rlvr[ray]'") from None
        from ray.util.placement_group import placement_group, remove_placement_group

        self.ray = ray
        self._remove = remove_placement_group
        address = cfg.cluster.address
        if address is not None:
            check_reachable(address)
        self.started_here = address is None and not ray.is_initialized()
        self.plan = plan(cfg)
        needs = self.plan.needs()
        needs["CPU"] = needs.get("CPU", 0.0) + cfg.reward_workers  # the reward workers: one-CPU Ray actors
        # a private instance declares at least the CPUs the run asks for: Ray's CPUs are logical (scheduling
        # tokens), and this machine is the one cluster=local would share the same way (ranks are still held to
        # its cores: `check_learner_resources`)
        cpus = max(os.cpu_count() or 1, math.ceil(needs["CPU"])) if self.started_here else None
        try:
            start_ray(address, num_cpus=cpus)
        except ConnectionError as exc:
            raise ConfigError(f"cluster.address={address}: {str(exc).splitlines()[0]}") from None
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        if len(nodes) < cfg.cluster.nodes:
            self.close()
            raise ConfigError(f"cluster.nodes={cfg.cluster.nodes}, but the Ray cluster has {len(nodes)} node(s)")
        have = ray.cluster_resources()
        if cfg.cluster.gpus_per_node == 0 and have.get("GPU", 0) and cfg.model.device != "cpu":
            self.close()  # Ray no longer hides GPUs from a process that asked for none: all would take GPU 0
            raise ConfigError(
                f"the Ray cluster has {have['GPU']:g} GPUs but cluster.gpus_per_node=0 (a CPU cluster): set "
                "cluster.gpus_per_node to the GPUs per node the run may use, or model.device=cpu"
            )
        short = {r: (n, have.get(r, 0.0)) for r, n in needs.items() if n > have.get(r, 0.0) + 1e-9}
        if short:
            self.close()
            text = ", ".join(f"{n:g} {r} (the cluster has {h:g})" for r, (n, h) in sorted(short.items()))
            raise ConfigError(
                f"the run needs {text}, counting a CPU for each of reward_workers={cfg.reward_workers}: fewer "
                "ranks, actors or reward workers, or a bigger cluster (CPUs are logical to Ray: `ray start "
                "--num-cpus=N` declares N)"
            )
        self.group = None
        if self.plan.bundles:
            self.group = placement_group(self.plan.bundles, strategy="PACK", name=f"rlvr-{os.getpid()}")
            try:
                ray.get(self.group.ready(), timeout=cfg.cluster.timeout_s)
            except ray.exceptions.GetTimeoutError:
                self.close()
                raise ConfigError(
                    f"Ray could not place the run's {len(self.plan.bundles)} bundles {self.plan.bundles} within "
                    f"cluster.timeout_s={cfg.cluster.timeout_s:g}: is another run holding them?"
                ) from None

    def options(self, role: str, index: int) -> dict[str, Any]:
        """`ray.remote(...).options(**these)` for learner rank `index` (role "learner") or rollout actor `index`."""
        slot = (self.plan.ranks if role == "learner" else self.plan.actors)[index]
        return {"num_gpus": slot.gpus, "num_cpus": slot.cpus, "scheduling_strategy": self._in_bundle(slot.bundle)}

    def _in_bundle(self, bundle: int):
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        return PlacementGroupSchedulingStrategy(self.group, placement_group_bundle_index=bundle)

    def master_address(self) -> tuple[str, int]:
        """The address and a free port on rank 0's node, for the ranks' process group (asked there: on another
        node this machine's address and ports mean nothing)."""
        task = self.ray.remote(_address_and_free_port).options(
            num_cpus=0, scheduling_strategy=self._in_bundle(self.plan.ranks[0].bundle)
        )
        return self.ray.get(task.remote())

    def close(self) -> None:
        """Free the placement group; stop Ray if the run started it."""
        with contextlib.suppress(Exception):
            if getattr(self, "group", None) is not None:
                self._remove(self.group)
                self.group = None
        if self.started_here:
            with contextlib.suppress(Exception):
                self.ray.shutdown()


def _address_and_free_port() -> tuple[str, int]:
    import ray

    from rlvr.distributed.group import free_port

    return ray.util.get_node_ip_address(), free_port()


def connect(cfg: TrainConfig) -> RayCluster | None:
    """The run's Ray cluster and placement under cluster=ray (one-line errors before anything starts); None
    under cluster=local."""
    return RayCluster(cfg) if cfg.cluster.kind == "ray" else None
