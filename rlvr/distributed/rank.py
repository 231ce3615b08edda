"""One learner rank: a process of its own that joins the learner's process group, loads the policy, shards it
with FSDP2 and runs the driver's calls on its slice of each step's batch (`LearnerGroup` sends them).

Every call reaches every rank in the same order (the process handles serve requests in order), so the
collectives inside them (FSDP's gathers and reductions, the metric reductions) line up across ranks."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import torch

from rlvr.distributed.fsdp import shard
from rlvr.distributed.group import unpack
from rlvr.distributed.ranks import Ranks, init_process_group
from rlvr.learner import Learner
from rlvr.model import load_model, load_tokenizer, resolve_device
from rlvr.rollout.actors import ActorSpec, exit_with_parent, own_tree, quiet_transformers
from rlvr.rollout.broadcast import BroadcastFailed, Sender, group_backend
from rlvr.rollout.processes import node_id
from rlvr.rollout.weights import WeightFile


def rank_device(device: str) -> torch.device:
    """The rank's device: its own GPU (the launcher shows each rank only its own) or the CPU."""
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        torch.cuda.set_device(0)
        return torch.device("cuda", 0)
    return resolved


class RankServer:
    """The learner of one rank, served to the driver (`rlvr.rollout.actors` runs it like an actor's engine)."""

    def __init__(self, spec: ActorSpec) -> None:
        options = dict(spec.options)
        cfg = spec.cfg
        exit_with_parent(spec.parent_pid, spec.parent_node)
        quiet_transformers()
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        self.rank = spec.index
        device = rank_device(cfg.model.device)
        init_process_group(self.rank, options["world_size"], options["address"], options["port"], device)
        torch.manual_seed(cfg.seed)  # a random-init policy starts the same on every rank
        model = shard(load_model(cfg.model, device), cfg)
        self.cfg = cfg
        self.learner = Learner(cfg, model, device, ranks=Ranks())
        self.sender: Sender | None = None  # rank 0's end of the actors' broadcast group, once opened

    def info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "tree": own_tree(), "shm": [], "node": node_id()}

    def handle(self, command: str, args: tuple) -> Any:
        learner = self.learner
        if command == "step":
            batch, lr_multiplier, totals = args
            return learner.step(unpack(batch), lr_multiplier, totals)
        if command == "weights":  # gathered tensor by tensor on every rank; rank 0 writes them for the actors
            dtype_name, nodes = args
            if self.rank != 0:
                for _ in learner.named_weights():  # each gather needs every rank
                    pass
                return None
            dtype = getattr(torch, dtype_name) if dtype_name else None
            weights = WeightFile(learner.named_weights, learner.version, dtype, specs=learner.weight_specs())
            if any(node != weights.node for node in nodes):
                weights.share()  # actors on other nodes: through Ray's object store, put from here
            return str(weights.path), weights.megabytes, weights.node, weights.ref
        if command == "open_channel":  # rank 0 sends broadcast weights (rollout.weight_transport=broadcast)
            if self.rank == 0:
                (depth,) = args
                device = next(learner.model.parameters()).device
                self.sender = Sender(group_backend(device), device, depth=depth)
                return self.sender.channel.as_dict()
            return None
        if command == "broadcast_weights":  # gathered tensor by tensor on every rank; rank 0 sends each bucket
            dtype_name, members = args
            if self.rank != 0:
                for _ in learner.named_weights():
                    pass
                return None
            dtype = getattr(torch, dtype_name) if dtype_name else None
            specs = [(name, shape, dtype or own) for name, shape, own in learner.weight_specs()]
            try:
                return self.sender.send(learner.version, learner.named_weights, specs, members)
            except BroadcastFailed as exc:  # the driver falls back to a file; the ranks carry on
                return {"failed": str(exc), "sequence": exc.sequence}
        if command == "remove_weights":  # a file this rank wrote, on a node the driver cannot reach
            if self.rank == 0:
                Path(args[0]).unlink(missing_ok=True)
            return None
        if command == "save":
            return learner.save(Path(args[0]))
        if command == "load":
            return learner.load(Path(args[0]))
        if command == "state":
            return learner.state_dict()
        if command == "load_state":
            return learner.load_state_dict(args[0])
        if command == "scale_lr":
            return learner.scale_lr(args[0])
        if command == "save_pretrained":
            return learner.save_pretrained(Path(args[0]), load_tokenizer(self.cfg.model))
        if command == "info":
            return self.info()
        raise ValueError(f"unknown learner command {command!r}")

    def close(self) -> None:
        import torch.distributed as dist

        with contextlib.suppress(Exception):
            dist.destroy_process_group()
