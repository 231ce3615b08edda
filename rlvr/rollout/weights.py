"""How learner weights travel to engines that do not share the learner's module.

* `encode` / `decode`: a payload for vLLM's `collective_rpc` (safetensors bytes on any device; CUDA IPC handles
  when the engine shares the learner's GPU, which maps them without a copy).
* `WeightFile`: one safetensors file per synced version for engines in other processes. The learner writes it
  once, every actor reads it (so M actors cost one serialisation, and a pipe message stays a path, never
  blocking on a busy actor); it lives in /dev/shm when that has room (memory speed), else in the temp dir,
  and is deleted once every actor has loaded it or a newer version. Names carry the writer's pid, so files of
  a process that died are recognised and removed by the next run (`remove_orphans`). An actor on another
  node of a Ray cluster cannot open the file: it gets the same bytes through Ray's object store, put once
  per version by the file's writer (`payload_for`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from rlvr.rollout.processes import node_id

NamedTensors = Callable[[], Iterable[tuple[str, torch.Tensor]]]
TensorSpec = tuple[str, tuple[int, ...], torch.dtype]  # name, shape, dtype: what a tensor will be, before it exists
SAFETENSORS_DTYPES = {
    getattr(torch, name): code
    for name, code in (
        ("float64", "F64"), ("float32", "F32"), ("float16", "F16"), ("bfloat16", "BF16"), ("int64", "I64"),
        ("int32", "I32"), ("int16", "I16"), ("int8", "I8"), ("uint8", "U8"), ("bool", "BOOL"),
        ("uint16", "U16"), ("uint32", "U32"), ("uint64", "U64"), ("float8_e4m3fn", "F8_E4M3"),
        ("float8_e5m2", "F8_E5M2"),
    )
    if hasattr(torch, name)
}  # fmt: skip
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
    """Weights as `encode` packed them (safetensors bytes or CUDA IPC handles), a safetensors file, or a version
    this process received by broadcast (`rlvr.rollout.broadcast`)."""
    from rlvr.rollout import broadcast

    if payload["kind"] == "broadcast":
        return broadcast.take(payload["sequence"], payload["version"])
    if payload.get("settles"):  # a file for a version whose broadcast failed: a copy staged anyway is obsolete
        broadcast.settle(payload["settles"])
    if payload["kind"] == "bytes":
        from safetensors.torch import load

        return load(payload["data"])
    if payload["kind"] == "file":
        from safetensors.torch import load_file

        return load_file(payload["path"])
    if payload["kind"] == "ray":  # an actor on another node than the file: the bytes from Ray's object store
        import ray
        from safetensors.torch import load

        return load(ray.get(payload["ref"]).tobytes())
    if payload["kind"] == "cuda_ipc":  # same-GPU colocated engine: rebuild the tensors without a copy
        device = torch.cuda.current_device()
        tensors = {}
        for name, (rebuild, args) in payload["data"].items():
            args = list(args)
            args[6] = device  # the device index the sender used may differ from ours
            tensors[name] = rebuild(*args)
        return tensors
    raise ValueError(f"unknown weight payload kind {payload['kind']!r}")


def stream_safetensors(path: Path, specs: list[TensorSpec], tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
    """Write a safetensors file one tensor at a time, in the order of `specs` (which the header is built from
    before any tensor exists). Written by hand because `safetensors.save_file` takes every tensor at once: a
    learner rank gathering a sharded model would have to hold all of it (this is the format's whole spec:
    8-byte header length, JSON header with byte offsets, the raw bytes)."""
    header: dict[str, Any] = {}
    offset = 0
    for name, shape, dtype in specs:
        if dtype not in SAFETENSORS_DTYPES:
            raise ValueError(f"{name}: safetensors has no code for {dtype}")
        size = math.prod(shape) * dtype.itemsize
        header[name] = {
            "dtype": SAFETENSORS_DTYPES[dtype],
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned, as safetensors writes it
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(raw)) + raw)
        for (name, shape, dtype), (got, tensor) in zip(specs, tensors, strict=True):
            if got != name or tuple(tensor.shape) != tuple(shape):
                raise ValueError(f"expected {name} {tuple(shape)}, got {got} {tuple(tensor.shape)}")
            data = tensor.detach().to("cpu", dtype).contiguous().reshape(-1).view(torch.uint8)
            out.write(memoryview(data.numpy()))


def weights_dir(size_bytes: int) -> Path:
    """/dev/shm when it can hold two versions (the old one is deleted only after the new one is loaded)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2 * size_bytes + (64 << 20):
        return shm
    return Path(tempfile.gettempdir())


class WeightFile:
    """One version of the weights on disk (or in /dev/shm) for actors to load; see the module docstring."""

    def __init__(
        self,
        named_tensors: NamedTensors,
        version: int,
        dtype: torch.dtype | None = None,
        specs: list[TensorSpec] | None = None,
    ) -> None:
        """Written one tensor at a time as `named_tensors()` yields them, in `dtype` (None: as they are), so the
        writer never holds a second copy of the model. The header needs every name and shape first: `specs`,
        or else a first pass over `named_tensors()` (views of a local model's weights: free; a sharded learner
        passes `specs`, since each pass would gather every shard)."""
        if specs is None:
            specs = [(name, tuple(t.shape), t.dtype) for name, t in named_tensors()]
        specs = [(name, shape, dtype or own) for name, shape, own in specs]
        self.megabytes = sum(math.prod(shape) * d.itemsize for _, shape, d in specs) / 2**20
        self.version = version
        self.settles = 0  # the broadcast send it replaces, when one failed (`rlvr.rollout.broadcast.settle`)
        self.node = node_id()  # the machine whose file system holds it
        self.ref: Any = None  # its bytes in Ray's object store, once an actor on another node needs them
        directory = weights_dir(int(self.megabytes * 2**20))
        self.path = directory / f"rlvr-weights-{os.getpid()}-v{version}.safetensors"
        tmp = self.path.with_suffix(".tmp")
        stream_safetensors(tmp, specs, named_tensors())
        os.replace(tmp, self.path)  # an actor never sees half a file

    @classmethod
    def written_elsewhere(
        cls, path: str, version: int, size_mb: float, node: str, ref: Any = None, remove: Callable | None = None
    ) -> WeightFile:
        """A file another process of the run wrote (learner rank 0), handed to the actors as it is; `remove`
        deletes it when it is on another node (the writer's file system)."""
        weights = cls.__new__(cls)
        weights.path, weights.version, weights.megabytes, weights.node, weights.ref = (
            Path(path), version, size_mb, node, ref,
        )  # fmt: skip
        weights.settles = 0
        weights._remove = remove
        return weights

    @property
    def payload(self) -> dict[str, Any]:
        return {"kind": "file", "path": str(self.path), "version": self.version, "settles": self.settles}

    def standalone(self) -> WeightFile:
        """What a process that starts after this version was sent loads: the file itself."""
        return self

    def share(self) -> None:
        """Put the bytes in Ray's object store for actors on other nodes (in the writer's process, once)."""
        if self.ref is None:
            import numpy as np
            import ray

            # a memory-mapped array goes into the object store without a copy in this process's heap
            self.ref = ray.put(np.memmap(self.path, dtype=np.uint8, mode="r"))

    def payload_for(self, node: str) -> dict[str, Any]:
        """What an actor on `node` loads: the file's path on its own machine, else the shared bytes."""
        if not node or node == self.node:
            return self.payload
        if self.ref is None:
            if self.node != node_id():
                raise RuntimeError(f"weights v{self.version} are on another node and were not shared")
            self.share()
        return {"kind": "ray", "ref": self.ref, "version": self.version, "settles": self.settles}

    def remove(self) -> None:
        remove = getattr(self, "_remove", None)
        if remove is None:
            self.path.unlink(missing_ok=True)
            return
        with contextlib.suppress(Exception):  # the writer may be gone (a run stopping): its node's next run cleans up
            remove()


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
