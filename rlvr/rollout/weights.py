"""How learner weights travel to engines that do not share the learner's module.

* `encode` / `decode`: a payload for vLLM's `collective_rpc` (safetensors bytes on any device; CUDA IPC handles
  when the engine shares the learner's GPU, which maps them without a copy).
* `WeightFile`: one safetensors file per synced version for engines in other processes. The learner writes it
  once, every actor reads it (so M actors cost one serialisation, and a pipe message stays a path, never
  blocking on a busy actor); it lives in /dev/shm when that has room (memory speed), else in the temp dir,
  and is deleted once every actor has loaded it or a newer version. Names carry the writer's pid, so files of
  a process that died are recognised and removed by the next run (`remove_orphans`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

NamedTensors = Callable[[], Iterable[tuple[str, torch.Tensor]]]
FILE_NAME = re.compile(r"^rlvr-weights-(\d+)-v\d+\.(safetensors|tmp)$")


def snapshot(
    named_tensors: NamedTensors, dtype: torch.dtype | None, device: str | None = None
) -> dict[str, torch.Tensor]:
    """Contiguous copies of the weights in `dtype` (None: as they are), on `device` (None: where they are)."""
    return {
        name: t.detach().to(device=device, dtype=dtype or t.dtype).contiguous().clone() for name, t in named_tensors()
    }


def megabytes(tensors: dict[str, torch.Tensor]) -> float:
    return sum(t.numel() * t.element_size() for t in tensors.values()) / 2**20


def encode(named_tensors: NamedTensors, dtype: torch.dtype, *, same_gpu: bool = True) -> tuple[dict[str, Any], float]:
    """Weights in the engine's dtype, packed for vLLM's `collective_rpc`; returns (payload, megabytes).

    CPU tensors travel as safetensors bytes (tensors passed through collective_rpc arrive as lists);
    CUDA tensors as IPC handles, which the worker on the same GPU maps without copying.
    """
    tensors = snapshot(named_tensors, dtype, None if same_gpu else "cpu")
    size = megabytes(tensors)
    if tensors and next(iter(tensors.values())).is_cuda:
        from torch.multiprocessing.reductions import reduce_tensor

        return {"kind": "cuda_ipc", "data": {name: reduce_tensor(t) for name, t in tensors.items()}}, size
    from safetensors.torch import save

    return {"kind": "bytes", "data": save(tensors)}, size


def decode(payload: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Weights as `encode` packed them: safetensors bytes, a safetensors file, or CUDA IPC handles."""
    if payload["kind"] == "bytes":
        from safetensors.torch import load

        return load(payload["data"])
    if payload["kind"] == "file":
        from safetensors.torch import load_file

        return load_file(payload["path"])
    if payload["kind"] == "cuda_ipc":  # same-GPU colocated engine: rebuild the tensors without a copy
        device = torch.cuda.current_device()
        tensors = {}
        for name, (rebuild, args) in payload["data"].items():
            args = list(args)
            args[6] = device  # the device index the sender used may differ from ours
            tensors[name] = rebuild(*args)
        return tensors
    raise ValueError(f"unknown weight payload kind {payload['kind']!r}")


def weights_dir(size_bytes: int) -> Path:
    """/dev/shm when it can hold two versions (the old one is deleted only after the new one is loaded)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2 * size_bytes + (64 << 20):
        return shm
    return Path(tempfile.gettempdir())


class WeightFile:
    """One version of the weights on disk (or in /dev/shm) for actors to load; see the module docstring."""

    def __init__(self, named_tensors: NamedTensors, version: int, dtype: torch.dtype | None = None) -> None:
        from safetensors.torch import save_file

        tensors = snapshot(named_tensors, dtype, "cpu")
        self.megabytes = megabytes(tensors)
        self.version = version
        directory = weights_dir(int(self.megabytes * 2**20))
        self.path = directory / f"rlvr-weights-{os.getpid()}-v{version}.safetensors"
        tmp = self.path.with_suffix(".tmp")
        save_file(tensors, tmp)
        os.replace(tmp, self.path)  # an actor never sees half a file

    @property
    def payload(self) -> dict[str, Any]:
        return {"kind": "file", "path": str(self.path), "version": self.version}

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def remove_files_of(pid: int) -> None:
    """Delete every weight file the process `pid` wrote (its run is over, or it died)."""
    for directory in {Path("/dev/shm"), Path(tempfile.gettempdir())}:
        for path in directory.glob(f"rlvr-weights-{pid}-*"):
            path.unlink(missing_ok=True)


def remove_orphans() -> None:
    """Delete weight files whose writer process is gone (a run that was killed before it could clean up)."""
    for directory in {Path("/dev/shm"), Path(tempfile.gettempdir())}:
        if not directory.is_dir():
            continue
        for path in directory.glob("rlvr-weights-*"):
            match = FILE_NAME.match(path.name)
            if match and not Path(f"/proc/{match.group(1)}").exists():
                path.unlink(missing_ok=True)
