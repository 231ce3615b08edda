"""Weights sent to every rollout actor over a process group (`rollout.weight_transport=broadcast`): NCCL
between GPUs, gloo on CPU.

Why: the default transport, a weight file (`rlvr.rollout.weights.WeightFile`), costs two host copies on GPU
(the writer's GPU to host memory, host memory to each actor's GPU). A broadcast goes from the writer's GPU to
every actor's GPU once, over NVLink or InfiniBand, the way verl, OpenRLHF and TRL feed vLLM. On CPU it is the
same code over gloo, which is how it is tested here.

How it works:
* The writer (the learner, or learner rank 0 when the learner is sharded) hosts a `TCPStore`: the control
  channel. Each actor process (each vLLM worker) runs a receiving thread (`Receiver`) that reads its own
  mailbox there: key `<member>/<n>` holds its n-th message, naming the version, the send's sequence number,
  the tensors (names, shapes, dtypes) and the group that carries them. Members answer with a `ready` key
  before the buckets and an `ack` key once the version is staged, so a send succeeds only when every member
  holds it, and a dead or frozen member fails it within `TIMEOUT_S` (not the group's 30-minute default).
* The group is built from torch's own classes (`ProcessGroupGloo`/`ProcessGroupNCCL` on a `PrefixStore`),
  outside the default process group, so it never meets the learner ranks' FSDP group. A group is one
  *generation* of members: a fixed-size group cannot take a new member, so when an actor is replaced the
  next version forms a new generation.
* Buckets: the writer packs tensors into buffers of at most `BUCKET_BYTES` as it gathers them (one tensor at
  a time from FSDP shards), so it never holds a second copy of the model; the receiver computes the same
  layout from the names and shapes (`layout`).
* Staging: actors generate ahead of the learner, so a version arrives while the engine still samples from an
  older one. The receiving thread keeps it aside (a copy of the weights, in the sampling dtype, on the actor's
  device) until the engine loads it (`take`, in the order of the actor's requests). With generation k steps
  ahead (`rollout.max_staleness`), up to k - 1 sent versions wait behind generations in an actor's queue, so a
  receiver has max(1, k) staging slots and the writer never waits for a generation to end. Each slot costs a
  copy of the weights (each vLLM worker, tensor-parallel ones included, stages the whole model).
* Failure: a member that is dead or does not answer within the timeout fails the send (`BroadcastFailed`);
  the actor group falls back to a weight file for that version (its load names the failed send, so a copy
  staged anyway is dropped: `settle`), and the next send forms a new generation.
* A replaced actor loads the current weights from a weight file (the broadcast keeps no copy of a version),
  which is why this transport needs `rollout.sync_every=1`: the current weights are then the synced ones.
"""

from __future__ import annotations

import atexit
import contextlib
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
# How long the writer waits for every member to be ready, for each bucket, and for every member's receipt.
# Readiness never waits on generation (each receiver has a staging slot per version it can hold back), so
# a member that is not ready in this time is dead or frozen: the version goes by file instead.
TIMEOUT_S = 60.0

TensorSpec = tuple[str, tuple[int, ...], torch.dtype]


class BroadcastFailed(RuntimeError):
    """A version did not reach every member (one died, or did not answer in time)."""

    def __init__(self, message: str, sequence: int = 0) -> None:
        super().__init__(message)
        self.sequence = sequence  # the failed send, which the version's fallback file names


@dataclass(frozen=True)
class Channel:
    """Where the writer's store listens and what the group runs on: all a receiver needs to join."""

    host: str
    port: int
    backend: str  # nccl | gloo
    timeout_s: float = TIMEOUT_S
    depth: int = 1  # staging slots of a receiver: versions it can hold before its engine loads them

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


def drop_group(group) -> None:
    """Let a generation's group go; a NCCL communicator is aborted (dropping it could leak it, or hang in the
    destructor of a broken one)."""
    abort = getattr(group, "abort", None) if isinstance(group, getattr(dist, "ProcessGroupNCCL", ())) else None
    with contextlib.suppress(Exception):
        if abort is not None:
            abort()


def broadcast(group, tensor: torch.Tensor) -> None:
    """`tensor` from rank 0 (the writer) to every member, in place, complete when this returns: NCCL's
    `wait()` only orders CUDA streams, so a GPU tensor's stream is synchronised too (one bucket in flight at a
    time, and a failure surfaces here rather than later in NCCL's watchdog)."""
    options = dist.BroadcastOptions()
    options.rootRank = 0
    options.rootTensor = 0
    group.broadcast([tensor], options).wait()
    if tensor.is_cuda:
        torch.cuda.current_stream(tensor.device).synchronize()


def _spec_json(specs: list[TensorSpec]) -> list[list[Any]]:
    return [[name, list(shape), str(dtype).removeprefix("torch.")] for name, shape, dtype in specs]


def _spec_from_json(raw: list[list[Any]]) -> list[TensorSpec]:
    return [(name, tuple(shape), getattr(torch, dtype)) for name, shape, dtype in raw]


class Sender:
    """The writer's end: the store, the current generation's group, and how many messages each member got.

    One send, numbered by `sequence` (increasing for the whole run, also when versions go back after a
    rollback): a message in each member's mailbox, then every member's `ready/<member>/<sequence>` key (it
    has a free staging slot and is in), the buckets, and every member's `ack/<member>/<sequence>` key (the
    version is staged there). Success means every member holds the version."""

    def __init__(
        self, backend: str, device: torch.device | None = None, timeout_s: float = TIMEOUT_S, depth: int = 1
    ) -> None:
        self.device = device or torch.device("cpu")
        self.store = dist.TCPStore(
            "0.0.0.0", 0, is_master=True, wait_for_workers=False, timeout=timedelta(seconds=timeout_s)
        )
        self.channel = Channel(reachable_host(), self.store.port, backend, timeout_s, depth)
        self.generation = 0
        self.sequence = 0
        self.group = None
        self.members: list[str] = []
        self.sent: dict[str, int] = {}

    def send(
        self,
        version: int,
        named_tensors: Callable[[], Iterable[tuple[str, torch.Tensor]]],
        specs: list[TensorSpec],
        members: list[str],
    ) -> tuple[float, int]:
        """Broadcast one version to `members` (names as the receivers registered them), tensor by tensor in
        the order of `specs` (name, shape, and the dtype they travel in); returns the megabytes sent and the
        send's sequence number (what the loads name: `BroadcastWeights`; a failed one's fallback file: `settle`).

        Every tensor of `named_tensors()` is consumed even when the send fails: a sharded learner gathers
        each one with its other ranks, which must not be left waiting."""
        self.sequence += 1
        tensors = iter(named_tensors())
        try:
            self._send(version, tensors, specs, sorted(members))
        except (RuntimeError, TimeoutError) as exc:  # the store's and the group's errors (DistError included)
            self.store.set(f"failed/{self.generation}", "1")  # receivers not yet in it do not try to join
            drop_group(self.group)
            self.group = None  # the next send forms a new generation
            reason = f"weights v{version} did not reach every actor: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            raise BroadcastFailed(reason, self.sequence) from exc
        finally:
            for _ in tensors:
                pass
        return sum(math.prod(shape) * dtype.itemsize for _, shape, dtype in specs) / 2**20, self.sequence

    def _send(self, version: int, tensors, specs: list[TensorSpec], members: list[str]) -> None:
        if self.group is None or members != self.members:
            drop_group(self.group)
            self.group = None
            self.generation += 1
        message = {
            "version": version,
            "sequence": self.sequence,
            "generation": self.generation,
            "world": len(members) + 1,
            "specs": _spec_json(specs),
            "bucket_bytes": BUCKET_BYTES,
        }
        for rank, member in enumerate(members, start=1):
            count = self.sent.get(member, 0)
            self.store.set(f"{member}/{count}", json.dumps({**message, "rank": rank}))
            self.sent[member] = count + 1
        timeout = timedelta(seconds=self.channel.timeout_s)
        self.store.wait([f"ready/{m}/{self.sequence}" for m in members], timeout)
        if self.group is None:
            c = self.channel
            self.group = make_group(self.store, self.generation, 0, len(members) + 1, c.backend, c.timeout_s)
            self.members = members
        for bucket in layout(specs, BUCKET_BYTES):
            buffer = torch.empty(bucket_size(specs, bucket), dtype=torch.uint8, device=self.device)
            for index, offset in bucket:
                name, shape, dtype = specs[index]
                got, tensor = next(tensors)
                if got != name or tuple(tensor.shape) != tuple(shape):
                    raise ValueError(f"expected {name} {tuple(shape)}, got {got} {tuple(tensor.shape)}")
                data = tensor.detach().to(self.device, dtype).contiguous().reshape(-1).view(torch.uint8)
                buffer[offset : offset + data.numel()].copy_(data)
            broadcast(self.group, buffer)
        self.store.wait([f"ack/{m}/{self.sequence}" for m in members], timeout)
        for member in members:
            self.store.delete_key(f"ready/{member}/{self.sequence}")
            self.store.delete_key(f"ack/{member}/{self.sequence}")


class Receiver:
    """An actor's end: a thread that receives each version into a staging slot until the engine takes it."""

    def __init__(self, channel: Channel, member: str, device: torch.device) -> None:
        self.channel = channel
        self.member = member
        self.device = device
        self.store = dist.TCPStore(
            channel.host, channel.port, is_master=False, timeout=timedelta(seconds=channel.timeout_s)
        )
        self.generation = 0
        self.group = None
        self.staged: list[tuple[int, int, dict[str, torch.Tensor]]] = []  # (sequence, version, tensors)
        self.settled = 0  # the newest send whose version the engine loaded from a file instead
        self.error: str | None = None  # the last failure of the thread, for the reason of a failed `take`
        self._changed = threading.Condition()
        self._stopped = False
        self._count = 0  # messages read from the mailbox
        self._thread = threading.Thread(target=self._run, daemon=True, name="rlvr-weights-receiver")
        self._thread.start()

    def _run(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        while not self._stopped:
            with self._changed:  # a free staging slot first: the writer waits for it (see `Sender`)
                while len(self.staged) >= self.channel.depth and not self._stopped:
                    self._changed.wait(0.5)
            try:
                message = self._next_message()
                if message is None:
                    continue
                self.store.set(f"ready/{self.member}/{message['sequence']}", "1")
                tensors = self._receive(message)
                with self._changed:
                    if message["sequence"] > self.settled:  # else its version came from a file meanwhile
                        self.staged.append((message["sequence"], message["version"], tensors))
                    self._changed.notify_all()
                self.store.set(f"ack/{self.member}/{message['sequence']}", "1")
            except Exception as exc:  # the writer gave up on this send (it goes by file), or is gone
                drop_group(self.group)
                self.group = None
                self.error = f"{type(exc).__name__}: {exc}"
                time.sleep(0.1)

    def _next_message(self) -> dict[str, Any] | None:
        """The next message of this member's mailbox, waiting for it (`close` posts one that stops)."""
        key = f"{self.member}/{self._count}"
        try:
            self.store.wait([key], timedelta(hours=1))
        except dist.DistStoreError:
            return None  # nothing sent for an hour: wait again
        message = json.loads(self.store.get(key))
        self.store.delete_key(key)
        self._count += 1
        return None if message.get("stop") else message

    def _receive(self, message: dict[str, Any]) -> dict[str, torch.Tensor]:
        generation = message["generation"]
        if generation != self.generation or self.group is None:
            drop_group(self.group)
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

    def take(self, sequence: int, version: int) -> dict[str, torch.Tensor]:
        """The staged weights of send `sequence` (staged before the writer returned, so they are here; older
        staged sends are dropped: their versions were loaded from a file)."""
        with self._changed:
            self.staged = [entry for entry in self.staged if entry[0] >= sequence]
            self._changed.notify_all()
            if not self.staged or self.staged[0][0] != sequence:
                reason = f" (receiver: {self.error})" if self.error else ""
                raise BroadcastFailed(f"weights v{version} (send {sequence}) are not staged here{reason}")
            _, staged_version, tensors = self.staged.pop(0)
            if staged_version != version:
                raise BroadcastFailed(f"send {sequence} carried v{staged_version}, not v{version}")
            return tensors

    def settle(self, sequence: int) -> None:
        """Send `sequence`'s version was loaded another way (a weight file): drop its staged copy and older
        ones, and one still arriving when it does."""
        with self._changed:
            self.settled = max(self.settled, sequence)
            self.staged = [entry for entry in self.staged if entry[0] > sequence]
            self._changed.notify_all()

    def close(self) -> None:
        """Stop the thread and wait for it: one still inside a store call when the interpreter exits aborts it."""
        self._stopped = True
        with self._changed:
            self._changed.notify_all()
        with contextlib.suppress(Exception):  # wakes its wait; from a connection of its own (the thread's is busy)
            c = self.channel
            waker = dist.TCPStore(c.host, c.port, is_master=False, timeout=timedelta(seconds=5))
            waker.set(f"{self.member}/{self._count}", json.dumps({"stop": True}))
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


def take(sequence: int, version: int) -> dict[str, torch.Tensor]:
    if _receiver is None:
        raise BroadcastFailed("this process receives no broadcast weights (no receiver was started)")
    return _receiver.take(sequence, version)


def settle(sequence: int) -> None:
    if _receiver is not None:
        _receiver.settle(sequence)


class BroadcastWeights:
    """One version that reached the actors by broadcast, as the actor group keeps track of it (the counterpart
    of a `WeightFile`): its load names only the version; a process that starts later cannot receive it, so it
    gets a weight file of the same weights, written when first needed (`standalone`)."""

    def __init__(self, version: int, sequence: int, megabytes: float, write_file: Callable[[], Any]) -> None:
        self.version = version
        self.sequence = sequence  # the send that carried it
        self.megabytes = megabytes
        self._write_file = write_file
        self._file: Any = None

    def payload_for(self, node: str) -> dict[str, Any]:
        return {"kind": "broadcast", "version": self.version, "sequence": self.sequence}

    def standalone(self) -> Any:
        """A `WeightFile` of this version, for an actor that was replaced after it was sent."""
        if self._file is None:
            self._file = self._write_file()
        return self._file

    def remove(self) -> None:
        if self._file is not None:
            self._file.remove()
