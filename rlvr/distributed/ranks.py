"""The collectives of a learner step across ranks, on `torch.distributed` (gloo on CPU, NCCL on GPU).

A step's metrics are sums over tokens or micro-batches (summed across ranks), extremes (min/max across ranks) or
a count every rank must agree on (the number of micro-batches: FSDP gathers weights inside every forward, so
every rank must run as many forwards and backwards as the others)."""

from __future__ import annotations

import datetime
import math
import os

import torch
import torch.distributed as dist


def init_process_group(rank: int, world_size: int, address: str, port: int, device: torch.device) -> None:
    """Join the learner's process group over TCP at `address:port` (rank 0 listens there). On GPU, NCCL carries
    CUDA tensors and gloo CPU ones (as TorchTitan does): with `learner.cpu_offload` the shards, their gradients
    and so the gathers of `full` and the gradient norm's reduction are on the CPU."""
    backend = "cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo"
    os.environ.setdefault("MASTER_ADDR", address)
    os.environ.setdefault("MASTER_PORT", str(port))
    dist.init_process_group(
        backend,
        init_method=f"tcp://{address}:{port}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(minutes=30),  # a rank waits this long for a dead peer before failing
    )


class Ranks:
    """This rank's place in the learner group, and the reductions the learner step needs."""

    def __init__(self) -> None:
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.device = torch.device("cuda", torch.cuda.current_device()) if "nccl" in dist.get_backend() else None

    def _reduce(self, values: list[float], op) -> list[float]:
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=op)
        return tensor.tolist()

    def max_count(self, count: int) -> int:
        return int(self._reduce([float(count)], dist.ReduceOp.MAX)[0])

    def combine(self, sums: dict[str, float], extremes: dict[str, tuple[str, float]]) -> dict[str, float]:
        """`sums` summed across ranks; `extremes` (name -> ("min"|"max", value)) reduced by their own op. A key
        that no rank set stays out (a rank without loss tokens has no ratios: it sends +-inf)."""
        names = sorted(sums)
        out = dict(zip(names, self._reduce([sums[n] for n in names], dist.ReduceOp.SUM), strict=True))
        for kind, op in (("min", dist.ReduceOp.MIN), ("max", dist.ReduceOp.MAX)):
            keys = sorted(n for n, (k, _) in extremes.items() if k == kind)
            for name, value in zip(keys, self._reduce([extremes[n][1] for n in keys], op), strict=True):
                if math.isfinite(value):
                    out[name] = value
        return out
