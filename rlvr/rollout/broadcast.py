"""Weights sent to every rollout actor over a process group (`rollout.weight_transport=broadcast`): NCCL
between GPUs, gloo on CPU.

Why: the default transport, a weight file (`rlvr.rollout.weights.WeightFile`), costs two host copies on GPU
(the writer's GPU to host memory, host memory to each actor's GPU). A broadcast goes from the writer's GPU to
every actor's GPU once, over NVLink or InfiniBand, the way verl, OpenRLHF and TRL feed vLLM. On CPU it is the
same code over gloo, which is how it is tested here.

How it works:
* The writer (the learner, or learner rank 0 when the learner is sharded) hosts a `TCPStore`: the control
  channel. Each actor process (each vLLM worker) runs a receiving thread (`Receiver`) that reads its own
  mailbox there: key `<member>/<n>` holds its n-th message, naming the version, the tensors (names, shapes,
  dtypes) and the group that carries them.
* The group is built from torch's own classes (`ProcessGroupGloo`/`ProcessGroupNCCL` on a `PrefixStore`),
  outside the default process group, so it never meets the learner ranks' FSDP group. A group is one
  *generation* of members: a fixed-size group cannot take a new member, so when an actor is replaced the
  next version forms a new generation.
* Buckets: the writer packs tensors into buffers of at most `BUCKET_BYTES` as it gathers them (one tensor at
  a time from FSDP shards), so it never holds a second copy of the model; the receiver computes the same
  layout from the names and shapes (`layout`).
* Staging: actors generate ahead of the learner, so a version arrives while the engine still samples from the
  previous one. The receiving thread keeps it aside (one copy of the weights, in the sampling dtype, on the
  actor's device) until the engine loads it (`take`, in the order of the actor's requests), and takes the
  next version only after that. The writer thus waits at most until each engine has loaded the version
  before.
* Failure: a member that is dead or does not answer within the timeout fails the send (`BroadcastFailed`);
  the actor group falls back to a weight file for that version, and the next send forms a new generation.
* A replaced actor loads the current weights from a weight file (the broadcast keeps no copy of a version),
  which is why this transport needs `rollout.sync_every=1`: the current weights are then the synced ones.
"""

from __future__ import annotations

import atexit
import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

BUCKET_BYTES = 256 << 20  # per broadcast: large enough to saturate a link, small beside a GPU's memory
ALIGN = 64  # every tensor starts at a multiple of this in its bucket, so it is viewed there without a copy
POLL_S = 0.05  # a receiver looks for its next message this often (and whether it should stop)

TensorSpec = tuple[str, tuple[int, ...], torch.dtype]


class BroadcastFailed(RuntimeError):
    """A version did not reach every member (one died, or did not answer in time)."""


@dataclass(frozen=True)
class Channel:
    """Where the writer's store listens and what the group runs on: all a receiver needs to join."""

    host: str
    port: int
    backend: str  # nccl | gloo
    timeout_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_backend(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def reachable_host() -> str:
    """An address of this machine that the actors can reach: the node's address on a Ray cluster (actors may
    run on other machines), else loopback (every actor is a child process here)."""
    try:
        import ray

        if ray.is_initialized():
            return ray.util.get_node_ip_address()
    except ImportError:
        pass
    return "127.0.0.1"


def layout(specs: list[TensorSpec], bucket_bytes: int) -> list[list[tuple[int, int]]]:
    """The buckets a version is sent in: per bucket, (tensor index, byte offset) of each tensor, in order.
    Consecutive tensors share a bucket while it stays within `bucket_bytes`; a larger tensor goes alone."""
    buckets: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    offset = 0
    for index, (_, shape, dtype) in enumerate(specs):
        size = math.prod(shape) * dtype.itemsize
        start = -(-offset // ALIGN) * ALIGN
        if current and start + size > bucket_bytes:
            buckets.append(current)
            current, start = [], 0
        current.append((index, start))
        offset = start + size
    if current:
        buckets.append(current)
    return buckets


def bucket_size(specs: list[TensorSpec], bucket: list[tuple[int, int]]) -> int:
    index, offset = bucket[-1]
    _, shape, dtype = specs[index]
    return offset + math.prod(shape) * dtype.itemsize


def make_group(store: dist.Store, generation: int, rank: int, size: int, backend: str, timeout_s: float):
    """One generation's process group, built directly (not registered as torch's default group)."""
    prefixed = dist.PrefixStore(f"group{generation}/", store)
    timeout = timedelta(seconds=timeout_s)
    if backend == "nccl":
        options = dist.ProcessGroupNCCL.Options()
        options._timeout = timeout
        return dist.ProcessGroupNCCL(prefixed, rank, size, options)
    return dist.ProcessGroupGloo(prefixed, rank, size, timeout)


def broadcast(group, tensor: torch.Tensor) -> None:
    """`tensor` from rank 0 (the writer) to every member, in place."""
    options = dist.BroadcastOptions()
    options.rootRank = 0
    options.rootTensor = 0
    group.broadcast([tensor], options).wait()


def _spec_json(specs: list[TensorSpec]) -> list[list[Any]]:
    return [[name, list(shape), str(dtype).removeprefix("torch.")] for name, shape, dtype in specs]


def _spec_from_json(raw: list[list[Any]]) -> list[TensorSpec]:
    return [(name, tuple(shape), getattr(torch, dtype)) for name, shape, dtype in raw]


class Sender:
    """The writer's end: the store, the current generation's group, and how many messages each member got."""

    def __init__(self, backend: str, timeout_s: float, device: torch.device | None = None) -> None:
        self.device = device or torch.device("cpu")
        self.store = dist.TCPStore(
            "0.0.0.0", 0, is_master=True, wait_for_workers=False, timeout=timedelta(seconds=timeout_s)
        )
        self.channel = Channel(reachable_host(), self.store.port, backend, timeout_s)
        self.generation = 0
        self.group = None
        self.members: list[str] = []
        self.sent: dict[str, int] = {}

    def send(
        self,
        version: int,
        named_tensors: Callable[[], Iterable[tuple[str, torch.Tensor]]],
        specs: list[TensorSpec],
        members: list[str],
    ) -> float:
        """Broadcast one version to `members` (names as the receivers registered them), tensor by tensor in
        the order of `specs` (name, shape, and the dtype they travel in); returns the megabytes sent.

        Every tensor of `named_tensors()` is consumed even when the send fails: a sharded learner gathers
        each one with its other ranks, which must not be left waiting."""
        tensors = iter(named_tensors())
        try:
            self._send(version, tensors, specs, sorted(members))
        except Exception as exc:
            self.store.set(f"failed/{self.generation}", "1")  # receivers not yet in it do not try to join
            self.group = None  # the next send forms a new generation
            raise BroadcastFailed(f"weights v{version} did not reach every actor: {type(exc).__name__}: {exc}") from exc
        finally:
            for _ in tensors:
                pass
        return sum(math.prod(shape) * dtype.itemsize for _, shape, dtype in specs) / 2**20

    def _send(self, version: int, tensors, specs: list[TensorSpec], members: list[str]) -> None:
        if self.group is None or members != self.members:
            self.generation += 1
            self.group = None
        message = {
            "version": version,
            "generation": self.generation,
            "world": len(members) + 1,
            "specs": _spec_json(specs),
            "bucket_bytes": BUCKET_BYTES,
        }
        for rank, member in enumerate(members, start=1):
            count = self.sent.get(member, 0)
            self.store.set(f"{member}/{count}", json.dumps({**message, "rank": rank}))
            self.sent[member] = count + 1
        if self.group is None:
            c = self.channel
            self.group = make_group(self.store, self.generation, 0, len(members) + 1, c.backend, c.timeout_s)
            self.members = members
        for bucket in layout(specs, message["bucket_bytes"]):
            buffer = torch.empty(bucket_size(specs, bucket), dtype=torch.uint8, device=self.device)
            for index, offset in bucket:
                name, shape, dtype = specs[index]
                got, tensor = next(tensors)
                if got != name or tuple(tensor.shape) != tuple(shape):
                    raise ValueError(f"expected {name} {tuple(shape)}, got {got} {tuple(tensor.shape)}")
                data = tensor.detach().to(self.device, dtype).contiguous().reshape(-1).view(torch.uint8)
                buffer[offset : offset + data.numel()].copy_(data)
            broadcast(self.group, buffer)


class Receiver:
    """An actor's end: a thread that receives each version into a staging copy until the engine takes it."""

    def __init__(self, channel: Channel, member: str, device: torch.device) -> None:
        self.channel = channel
        self.member = member
        self.device = device
        self.store = dist.TCPStore(
            channel.host, channel.port, is_master=False, timeout=timedelta(seconds=channel.timeout_s)
        )
        self.generation = 0
        self.group = None
        self.staged: tuple[int, dict[str, torch.Tensor]] | None = None
        self.settled = -1  # the newest version the engine loaded from a file instead
        self.error: str | None = None  # why the thread stopped, if it did
        self._changed = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="rlvr-weights-receiver")
        self._thread.start()

    def _run(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        count = 0
        try:
            while not self._stopped:
                with self._changed:  # one staged version at a time: the next waits until the engine took it
                    while self.staged is not None and not self._stopped:
                        self._changed.wait(0.5)
                key = f"{self.member}/{count}"
                if not self.store.check([key]):  # polled: a blocking wait logs a warning at every timeout
                    time.sleep(POLL_S)
                    continue
                message = json.loads(self.store.get(key))
                self.store.delete_key(key)
                count += 1
                try:
                    tensors = self._receive(message)
                except Exception:  # the writer falls back to a file for this version and forms a new group
                    self.group = None
                    continue
                with self._changed:
                    if message["version"] > self.settled:  # else already loaded from a file
                        self.staged = (message["version"], tensors)
                    self._changed.notify_all()
        except Exception as exc:  # the writer is gone (the run ended): nothing more will come
            with self._changed:
                self.error = f"{type(exc).__name__}: {exc}"
                self._changed.notify_all()

    def _receive(self, message: dict[str, Any]) -> dict[str, torch.Tensor]:
        generation = message["generation"]
        if generation != self.generation or self.group is None:
            self.group = None
            if self.store.check([f"failed/{generation}"]):
                raise BroadcastFailed(f"generation {generation} was abandoned")
            c = self.channel
            self.group = make_group(self.store, generation, message["rank"], message["world"], c.backend, c.timeout_s)
            self.generation = generation
        specs = _spec_from_json(message["specs"])
        tensors: dict[str, torch.Tensor] = {}
        for bucket in layout(specs, message["bucket_bytes"]):
            buffer = torch.empty(bucket_size(specs, bucket), dtype=torch.uint8, device=self.device)
            broadcast(self.group, buffer)
            for index, offset in bucket:
                name, shape, dtype = specs[index]
                size = math.prod(shape) * dtype.itemsize
                tensors[name] = buffer[offset : offset + size].view(dtype).reshape(shape)  # a view: no copy
        return tensors

    def take(self, version: int) -> dict[str, torch.Tensor]:
        """The staged weights of `version`, once they are here (older staged versions are dropped: their loads
        came from a file after a failed send)."""
        with self._changed:
            while True:
                if self.staged is not None:
                    staged_version, tensors = self.staged
                    self.staged = None
                    self._changed.notify_all()
                    if staged_version == version:
                        return tensors
                    if staged_version > version:
                        raise BroadcastFailed(f"expected weights v{version}, v{staged_version} arrived")
                    continue
                if self.error is not None:
                    raise BroadcastFailed(f"the weights channel closed: {self.error}")
                if not self._changed.wait(self.channel.timeout_s):
                    raise BroadcastFailed(f"weights v{version} did not arrive in {self.channel.timeout_s:g} s")

    def settle(self, version: int) -> None:
        """`version` was loaded another way (a weight file): drop any staged copy of it or of older ones."""
        with self._changed:
            self.settled = max(self.settled, version)  # one still arriving is dropped when it does
            if self.staged is not None and self.staged[0] <= version:
                self.staged = None
                self._changed.notify_all()

    def close(self) -> None:
        """Stop the thread and wait for it: one still inside a store call when the interpreter exits aborts it."""
        self._stopped = True
        with self._changed:
            self._changed.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


_receiver: Receiver | None = None  # this process's (an actor's engine, or one vLLM worker)


def start_receiver(channel: dict[str, Any], member: str, device: torch.device) -> None:
    """Start receiving broadcast weights in this process, as `member` (see the module docstring)."""
    global _receiver
    if _receiver is not None:
        _receiver.close()
    _receiver = Receiver(Channel(**channel), member, device)
    atexit.register(_receiver.close)


def take(version: int) -> dict[str, torch.Tensor]:
    if _receiver is None:
        raise BroadcastFailed("this process receives no broadcast weights (no receiver was started)")
    return _receiver.take(version)


def settle(version: int) -> None:
    if _receiver is not None:
        _receiver.settle(version)


class BroadcastWeights:
    """One version that reached the actors by broadcast, as the actor group keeps track of it (the counterpart
    of a `WeightFile`): its load names only the version; a process that starts later cannot receive it, so it
    gets a weight file of the same weights, written when first needed (`standalone`)."""

    def __init__(self, version: int, megabytes: float, write_file: Callable[[], Any]) -> None:
        self.version = version
        self.megabytes = megabytes
        self._write_file = write_file
        self._file: Any = None

    def payload_for(self, node: str) -> dict[str, Any]:
        return {"kind": "broadcast", "version": self.version}

    def standalone(self) -> Any:
        """A `WeightFile` of this version, for an actor that was replaced after it was sent."""
        if self._file is None:
            self._file = self._write_file()
        return self._file

    def remove(self) -> None:
        if self._file is not None:
            self._file.remove()
