"""`LearnerGroup`: `learner.world_size` learner ranks (`rank.RankServer`) behind the interface of a `Learner`, so
the training loop does not know how many processes train.

Each call goes to every rank in the same order. A step's batch is cut into one slice of rows per rank with
similar token counts (`rlvr.batching.split_rows`); every rank gets the whole batch's totals to scale its loss,
and the metrics come back already reduced across ranks (rank 0's copy is returned). Weights for the rollout
actors are gathered on rank 0, one tensor at a time. Checkpoints: every rank writes its shard of the optimizer
state into the checkpoint directory the driver is filling, rank 0 the whole weights (`Learner.save`).

Faults: a rank that dies (or answers nothing for `learner.timeout_s`) ends the run with one line naming it;
every rank is killed with it (the process handles of `rlvr.rollout.actors`: whole process trees, and a rank
whose driver dies exits by itself). `resume=auto` continues from the last checkpoint."""

from __future__ import annotations

import io
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from rlvr.batching import BatchTotals, collate_empty, split_rows
from rlvr.config import TrainConfig
from rlvr.errors import ConfigError, TrainingStopped
from rlvr.model import resolve_device
from rlvr.rollout.actors import ActorDied, ActorFrozen, ActorSpec, ProcessHandle, RayHandle
from rlvr.rollout.broadcast import BroadcastFailed
from rlvr.rollout.processes import alive, node_id
from rlvr.rollout.weights import WeightFile
from rlvr.types import TrainBatch


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("", 0))  # free on every interface: other nodes' ranks connect to it
        return sock.getsockname()[1]


def rank_gpus(world_size: int) -> list[tuple[int, ...]]:
    """One GPU per rank when there are GPUs (the first `world_size`; actors take the ones after), else none."""
    if not torch.cuda.is_available():
        return [() for _ in range(world_size)]
    return [(rank,) for rank in range(world_size)]


def check_learner_resources(cfg: TrainConfig) -> None:
    """`learner.world_size` ranks fit this machine: one GPU each, or one CPU core each (a one-line error before
    anything starts, instead of ranks that wait for each other's cores or a device that does not exist). A joined
    Ray cluster (cluster.address) has the ranks on its nodes, not necessarily this one."""
    n = cfg.learner.world_size
    if n == 1 or (cfg.cluster.kind == "ray" and cfg.cluster.address is not None):
        return  # the ranks are on a Ray cluster's nodes: `RayCluster` checks its resources
    if resolve_device(cfg.model.device).type == "cuda":
        devices = torch.cuda.device_count()
        if n > devices:
            raise ConfigError(f"learner.world_size={n} needs {n} GPUs, this machine has {devices}")
        return
    cores = len(os.sched_getaffinity(0))
    if n > cores:
        raise ConfigError(f"learner.world_size={n} needs a CPU core per rank, this process may use {cores}")


class LearnerGroup:
    """The learner of a run with `learner.world_size > 1` (see the module docstring)."""

    def __init__(self, cfg: TrainConfig, cluster=None) -> None:
        """`cluster`: the run's `rlvr.distributed.cluster.RayCluster` under cluster=ray (ranks are Ray actors it
        places); None: subprocesses of this one (cluster=local)."""
        self.cfg = cfg
        self.world_size = cfg.learner.world_size
        self.version = 0
        if cluster is not None:
            address, port = cluster.master_address()
            gpus = [() for _ in range(self.world_size)]  # Ray shows each rank its own
        else:
            address, port, gpus = "127.0.0.1", free_port(), rank_gpus(self.world_size)
        options = (("world_size", self.world_size), ("address", address), ("port", port))
        specs = [
            ActorSpec(
                cfg, rank, os.getpid(), gpus[rank], server=_rank_server(), role="learner", options=options,
                parent_node=node_id(),
            )
            for rank in range(self.world_size)
        ]  # fmt: skip
        self.handles: list[ProcessHandle | RayHandle | None] = [None] * self.world_size
        errors: list[str] = []
        refusals: list[ConfigError] = []

        def start(spec: ActorSpec) -> None:
            try:  # the ranks wait for each other in init_process_group: they must start together
                if cluster is not None:
                    placement = cluster.options("learner", spec.index)
                    self.handles[spec.index] = RayHandle(spec, cfg.rollout.start_timeout_s, placement)
                else:
                    self.handles[spec.index] = ProcessHandle(spec, cfg.rollout.start_timeout_s)
            except ConfigError as exc:  # bad input: the one-line error it is, not a failed start
                refusals.append(exc)
            except BaseException as exc:  # any failure, reported below once every start has ended
                errors.append(f"learner rank {spec.index} failed to start: {exc}")

        threads = [threading.Thread(target=start, args=(spec,), daemon=True) for spec in specs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors or refusals:
            self.kill()
            if refusals:
                raise refusals[0]
            raise TrainingStopped(sorted(errors)[0])
        self._tickets = 0

    # ---- calls to every rank -------------------------------------------------------------------------
    def _call(self, command: str, per_rank: list[tuple] | None = None, args: tuple = ()) -> list[Any]:
        """`command` on every rank (with its own arguments when `per_rank` is given); the replies in rank
        order. A rank that errs, dies or hangs stops the run, and every rank goes with it."""
        self._tickets += 1
        ticket = self._tickets
        for rank, handle in enumerate(self.handles):
            handle.send(ticket, command, per_rank[rank] if per_rank is not None else args)
        replies, failure = [], None
        for rank, handle in enumerate(self.handles):
            try:
                status, value, _ = handle.wait(ticket, self.cfg.learner.timeout_s)
            except (ActorDied, ActorFrozen) as exc:
                failure = failure or f"learner rank {rank}: {exc}"
                break
            if status == "error":
                failure = failure or f"learner rank {rank}: {command} failed: {value}"
                break
            replies.append(value)
        if failure:
            # a rank that died makes the others fail in their collectives: name the dead one, not them
            ended = [(rank, how) for rank, handle in enumerate(self.handles) if (how := _ended(handle))]
            if ended:
                failure = f"learner rank {ended[0][0]} died ({ended[0][1]})"
            self.kill()  # the others may be blocked in a collective with the failed one: no polite close
            raise TrainingStopped(f"{failure}; every learner rank was stopped (resume=auto continues)")
        return replies

    # ---- the Learner interface -----------------------------------------------------------------------
    @property
    def current_step(self) -> int:
        return self.version + 1

    def step(self, batch: TrainBatch, lr_multiplier: float = 1.0) -> dict[str, float]:
        totals = BatchTotals.of(batch)
        if totals.rows == 0 or totals.tokens == 0:
            slices = [collate_empty()] * self.world_size
        else:
            slices = split_rows(batch, self.world_size)
        metrics = self._call("step", per_rank=[(pack(s), lr_multiplier, totals) for s in slices])[0]
        self.version += 1
        return metrics

    @property
    def named_weights(self) -> GatheredWeights:
        """The whole weights, gathered on rank 0 (see `GatheredWeights`)."""
        return GatheredWeights(self)

    def write_weights(self, version: int, dtype: torch.dtype | None, nodes: set[str]) -> WeightFile:
        """Rank 0 gathers the weights tensor by tensor into a `WeightFile` (in `dtype`), shared through Ray's
        object store when an actor on another node of `nodes` needs them."""
        name = str(dtype).removeprefix("torch.") if dtype is not None else None
        path, size_mb, node, ref = self._call("weights", args=(name, sorted(nodes)))[0]
        remove = None if node == node_id() else (lambda: self._call("remove_weights", args=(path,)))
        return WeightFile.written_elsewhere(path, version, size_mb, node, ref, remove)

    def open_weights_channel(self, depth: int) -> dict[str, Any]:
        """Rank 0 hosts the actors' broadcast group (`rlvr.rollout.broadcast`, over NCCL when rank 0 is on a GPU,
        else gloo: rank 0 knows its own device, which under Ray the driver may not have); returns where to
        join it."""
        return self._call("open_channel", args=(depth,))[0]

    def broadcast_weights(self, dtype: torch.dtype | None, members: list[str]) -> tuple[float, int]:
        """Rank 0 gathers the weights tensor by tensor and broadcasts them to `members`; returns the megabytes
        and the send's sequence number."""
        name = str(dtype).removeprefix("torch.") if dtype is not None else None
        sent = self._call("broadcast_weights", args=(name, members))[0]
        if isinstance(sent, dict):
            raise BroadcastFailed(sent["failed"], sent["sequence"])
        return tuple(sent)

    def save(self, directory: Path) -> None:
        self._call("save", args=(str(directory.resolve()),))  # a rank's working directory may be another

    def load(self, directory: Path) -> None:
        self._call("load", args=(str(directory.resolve()),))

    def state_dict(self) -> dict:
        return self._call("state")[0]

    def load_state_dict(self, state: dict) -> None:
        self._call("load_state", args=(state,))
        self.version = int(state["version"])

    def scale_lr(self, factor: float) -> None:
        self._call("scale_lr", args=(factor,))

    def save_pretrained(self, out: Path, tokenizer) -> None:
        self._call("save_pretrained", args=(str(out.resolve()),))

    def close(self) -> None:
        for handle in self.handles:
            if handle is not None:
                handle.close()

    def kill(self) -> None:
        for handle in self.handles:
            if handle is not None:
                handle.kill()


class GatheredWeights:
    """The learner ranks' weights as `NamedTensors` (a callable yielding them) that can also write their own
    file: `ActorGroup.update_weights` takes the file rank 0 wrote as it is, so they are gathered once, written
    once, and never held whole by the driver or copied into a second file. Under
    `rollout.weight_transport=broadcast` rank 0 sends them to the actors as it gathers them instead."""

    def __init__(self, group: LearnerGroup) -> None:
        self.group = group

    def write_file(self, version: int, dtype: torch.dtype | None, nodes: set[str]) -> WeightFile:
        return self.group.write_weights(version, dtype, nodes)

    def open_channel(self, depth: int) -> dict[str, Any]:
        return self.group.open_weights_channel(depth)

    def broadcast(self, version: int, dtype: torch.dtype | None, members: list[str]) -> tuple[float, int]:
        return self.group.broadcast_weights(dtype, members)

    def __call__(self) -> Iterator[tuple[str, torch.Tensor]]:
        weights = self.write_file(self.group.version, None, set())
        try:
            tensors = load_file(weights.path)
        finally:
            weights.remove()
        yield from tensors.items()


def _ended(handle: ProcessHandle | RayHandle | None, grace_s: float = 2.0) -> str | None:
    """How the rank's process ended, or None while it runs (waiting briefly: a killed rank's peers may notice
    first)."""
    if handle is None:
        return "never started"
    if isinstance(handle, RayHandle):
        pid, deadline = handle.info["pid"], time.monotonic() + grace_s
        if not handle.local:  # on another node: ask Ray
            return _ray_actor_ended(handle, grace_s)
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return None if alive(pid) else "its Ray actor's process is gone"
    handle.process.join(timeout=grace_s)
    if handle.process.is_alive():
        return None
    code = handle.process.exitcode
    return f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"


def _ray_actor_ended(handle: RayHandle, grace_s: float) -> str | None:
    ray = handle.ray
    try:
        ray.get(handle.actor.__ray_ready__.remote(), timeout=grace_s)
    except ray.exceptions.RayActorError:
        return "its Ray actor died"
    except ray.exceptions.GetTimeoutError:
        return None  # busy in a collective that failed elsewhere
    return None


def pack(value: Any) -> bytes:
    """Tensors as bytes for the pipe to a rank. Pickled as they are, tensors would travel as shared-memory file
    descriptors served by a thread of this process, which prints a traceback when a rank dies mid-transfer."""
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def unpack(data: bytes) -> Any:
    return torch.load(io.BytesIO(data), weights_only=False)


def _rank_server() -> type:
    from rlvr.distributed.rank import RankServer  # the rank's own imports stay out of the driver's start-up

    return RankServer
