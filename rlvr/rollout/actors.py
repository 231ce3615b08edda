"""Any rollout engine in a process of its own: started, fed, watched, restarted and cleaned up, in one place.

`rollout.mode=actor` runs `rollout.actors` engines (any backend of `rlvr.rollout.factory`), each in its own
process: a Ray actor when Ray is installed (`rollout.actor_backend=auto|ray`), else a plain subprocess
(`process`). `ActorGroup` is the RolloutEngine the learner sees:

* A step's prompts are split across the actors. `submit` returns at once, so the learner can train while the
  actors generate; `Pending.result()` collects the groups in order.
* Weights: one file per synced version (`rlvr.rollout.weights.WeightFile`), written once and read by every
  actor, or (`rollout.weight_transport=broadcast`) a broadcast from the weights' writer to every actor over a
  process group (`rlvr.rollout.broadcast`), with a file for a version the broadcast could not deliver. Each
  actor serves its requests in order, so a generation submitted after `update_weights` samples from the new
  weights without the learner waiting for the load.
* Death: an actor whose process is gone is restarted, loaded with the current weights, and its unfinished
  requests are issued again (at most `MAX_RESTARTS` restarts in a row before the run stops with the reason).
* Freeze: an actor that answers nothing for `rollout.timeout_s` (a stopped or deadlocked engine) is killed
  and restarted the same way, with a message.
* Errors that are not deaths (the engine refuses a request) are raised at once as `RolloutError` carrying the
  engine's own reason: restarting would fail the same way.
* A failed start reports the engine's exception (or how the process died), not "the process exited".
* Nothing outlives the run: `close()` (normal end, an error, SIGINT, SIGTERM through the CLI's handler) and a
  restart kill the actor's whole process tree and unlink the /dev/shm segments its engine mapped; an actor
  whose parent dies (SIGKILL) notices within half a second, kills its own tree and exits; an actor process
  runs in a session of its own, so a Ctrl-C in the terminal reaches only the learner, which closes it.
Every restart is counted (`restarts`) and reported (`events()`), for the `rollout/restarts` metric, an event in
metrics.jsonl and a console line.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rlvr.config import TrainConfig
from rlvr.errors import ConfigError
from rlvr.rollout.base import RolloutError, SamplingParams
from rlvr.rollout.broadcast import BroadcastFailed, BroadcastWeights, Sender, group_backend
from rlvr.rollout.processes import alive, descendants, kill_all, mapped_shm, node_id, unlink_shm
from rlvr.rollout.weights import NamedTensors, WeightFile, remove_files_of, remove_orphans
from rlvr.types import Rollout, Sample

MAX_RESTARTS = 3  # restarts of one actor in a row (without a request served in between) before giving up
POLL_S = 0.2


class ActorDied(Exception):
    """The actor's process is gone (or never became ready)."""


class ActorFrozen(Exception):
    """The actor answered nothing within `rollout.timeout_s`."""


@dataclass(frozen=True)
class ActorSpec:
    """What an actor process needs to build its server: by default a rollout engine (`RolloutServer`); learner ranks
    (`rlvr.distributed`) run in the same kind of process with a server of their own."""

    cfg: TrainConfig
    index: int
    parent_pid: int  # the learner: when it is gone, the actor cleans up and exits
    gpus: tuple[int, ...] = ()  # CUDA devices of this actor (process backend; Ray assigns its own)
    server: type | None = None  # the class served in the process, built from the spec; None = RolloutServer
    role: str = "actor"  # the process is named rlvr-<role>-<index> (what `ps` and `top` show)
    options: tuple[tuple[str, Any], ...] = ()  # what that server needs besides the config (a learner's rank)
    parent_node: str = ""  # the learner's machine (`node_id`); on another node of a Ray cluster, Ray watches it

    @property
    def name(self) -> str:
        return f"rlvr-{self.role}-{self.index}"

    @property
    def server_class(self) -> type:
        """What the process serves: `server`, else a rollout engine (`RolloutServer`)."""
        return self.server or RolloutServer


# ---- inside the actor process ---------------------------------------------------------------------------


def own_tree() -> list[int]:
    return [os.getpid(), *descendants(os.getpid())]


def quiet_transformers() -> None:
    """No "Loading weights" bars from a child process (the run has its own progress line)."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def exit_with_parent(parent_pid: int, parent_node: str = "") -> None:
    """A thread that ends this process, and everything it started, once the learner is gone: an actor whose
    parent was killed would otherwise hang on forever holding its engine (or, a learner rank, its shards).
    A parent on another machine (a Ray cluster) is not ours to watch: Ray ends an actor whose owner died."""
    if parent_node and parent_node != node_id():
        return

    def watch() -> None:
        while alive(parent_pid):
            time.sleep(0.5)
        kill_all(descendants(os.getpid()))
        unlink_shm(mapped_shm(own_tree()))
        remove_files_of(parent_pid)  # the weight files the dead learner left
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="rlvr-parent-watch").start()


class RolloutServer:
    """The engine and its request handler, in the actor process (both backends)."""

    def __init__(self, spec: ActorSpec) -> None:
        import torch

        from rlvr.rollout.factory import BACKENDS

        self.spec = spec
        exit_with_parent(spec.parent_pid, spec.parent_node)
        quiet_transformers()
        if spec.cfg.rollout.threads > 0:
            torch.set_num_threads(spec.cfg.rollout.threads)
        torch.manual_seed(spec.cfg.seed + 7919 * (spec.index + 1))
        self.engine = BACKENDS[spec.cfg.rollout.backend].standalone(spec.cfg)
        options = dict(spec.options)
        if "weights_channel" in options:  # rollout.weight_transport=broadcast
            self.engine.receive_broadcasts(options["weights_channel"], options["weights_member"])

    def shm(self) -> set[str]:
        return mapped_shm(own_tree())

    def info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "tree": own_tree(), "shm": sorted(self.shm()), "node": node_id()}

    def handle(self, command: str, args: tuple) -> Any:
        if command == "generate":
            return self.engine.generate(*args)
        if command == "load_weights":
            payload, version = args
            return self.engine.update_weights_from(payload, version)
        if command == "info":
            return self.info()
        raise ValueError(f"unknown actor command {command!r}")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.engine.close()


def _process_main(conn, spec: ActorSpec) -> None:
    """Entry point of a subprocess actor: build the engine, then serve (ticket, command, args) in order."""
    os.setsid()  # its own session: a Ctrl-C in the terminal reaches the learner, which closes the actor
    with contextlib.suppress(OSError):  # `ps` and `top` show what it is
        Path("/proc/self/comm").write_text(spec.name)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))
    try:
        server = spec.server_class(spec)
    except ConfigError as exc:  # bad input found where the model is (a rank's LoRA, an engine's settings)
        conn.send(("refused", str(exc)))
        return
    except BaseException as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    learner_gone = False
    try:
        conn.send(("ready", server.info()))
        while True:
            try:
                ticket, command, args = conn.recv()
            except (EOFError, OSError):  # the learner closed its end without "close": it died
                learner_gone = True
                break
            if command == "close":
                break
            start = time.monotonic()
            try:
                reply = (ticket, "ok", server.handle(command, args), time.monotonic() - start)
            except Exception as exc:
                reply = (ticket, "error", f"{type(exc).__name__}: {exc}", time.monotonic() - start)
            try:
                conn.send(reply)
            except OSError:  # a broken pipe: the learner died while we worked
                learner_gone = True
                break
    finally:
        server.close()
        kill_all(descendants(os.getpid()))
        if learner_gone or not alive(spec.parent_pid):
            remove_files_of_dead(spec.parent_pid)


def remove_files_of_dead(learner_pid: int, wait_s: float = 10) -> None:
    """Delete the weight files of a learner whose pipe closed: it died, so they are orphans. A killed process
    closes its files before it turns zombie, so the pipe's end can arrive while the learner still reads as
    alive: wait for its end (never delete the files of a learner that lives on)."""
    deadline = time.monotonic() + wait_s
    while alive(learner_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not alive(learner_pid):
        remove_files_of(learner_pid)


# ---- the learner's side: one handle per backend ---------------------------------------------------------


class ProcessHandle:
    """A subprocess actor, driven over a pipe. A reader thread takes every reply as it comes (so the actor
    never blocks on a busy learner) and a sender thread writes requests (so the learner never blocks on a
    busy actor)."""

    def __init__(self, spec: ActorSpec, start_timeout_s: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_process_main, args=(child, spec), name=spec.name)
        with _visible_gpus(spec.gpus):
            self.process.start()
        child.close()
        self.info = self._wait_ready(start_timeout_s)
        self.replies: dict[int, tuple[str, Any, float]] = {}
        self.sent: dict[int, float] = {}
        self.last_reply = time.monotonic()
        self._dead = False
        self._changed = threading.Condition()
        self._outbox: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name=f"{spec.name}-read").start()
        threading.Thread(target=self._write, daemon=True, name=f"{spec.name}-write").start()

    def _wait_ready(self, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.conn.poll(POLL_S):
                try:
                    status, value = self.conn.recv()
                except (EOFError, OSError):
                    break
                if status in ("failed", "refused"):
                    self.kill()
                    raise ConfigError(value) if status == "refused" else ActorDied(value)
                return value
            if not self.process.is_alive():
                break
        timed_out = time.monotonic() >= deadline  # (the kill below gives the process an exit code of its own)
        self.kill()
        code = self.process.exitcode
        if timed_out or code is None:
            raise ActorDied(f"not ready after {timeout_s:g} s (rollout.start_timeout_s)")
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        raise ActorDied(f"the actor process ended ({how}) before its engine was ready")

    def _read(self) -> None:
        while True:
            try:
                ticket, status, value, busy_s = self.conn.recv()
            except (EOFError, OSError, ValueError):
                break
            with self._changed:
                self.replies[ticket] = (status, value, busy_s)
                self.last_reply = time.monotonic()
                self._changed.notify_all()
        with self._changed:
            self._dead = True
            self._changed.notify_all()

    def _write(self) -> None:
        while True:
            message = self._outbox.get()
            if message is None:
                return
            try:
                self.conn.send(message)
            except (OSError, ValueError):
                return  # the reader sees the death

    def send(self, ticket: int, command: str, args: tuple) -> None:
        self.sent[ticket] = time.monotonic()
        self._outbox.put((ticket, command, args))

    def alive(self) -> bool:
        return not self._dead and self.process.is_alive()

    def wait(self, ticket: int, timeout_s: float) -> tuple[str, Any, float]:
        """The reply to `ticket`; ActorDied if the process is gone, ActorFrozen when the actor has answered
        nothing for `timeout_s` since this request was sent (or since its previous answer, if later: requests
        queue behind each other)."""
        with self._changed:
            while ticket not in self.replies:
                if self._dead or not self.process.is_alive():
                    raise ActorDied(f"the actor process died (exit code {self.process.exitcode})")
                if time.monotonic() - max(self.last_reply, self.sent[ticket]) > timeout_s:
                    raise ActorFrozen(f"no answer for {timeout_s:g} s (rollout.timeout_s)")
                self._changed.wait(POLL_S)
            del self.sent[ticket]
            return self.replies.pop(ticket)

    def kill(self) -> None:
        tree = {self.process.pid, *descendants(self.process.pid), *getattr(self, "info", {}).get("tree", [])}
        shm = mapped_shm(tree) | set(getattr(self, "info", {}).get("shm", []))
        if hasattr(self, "_outbox"):
            self._outbox.put(None)
        kill_all(p for p in tree if p)
        unlink_shm(shm)
        self.process.join(timeout=10)
        with contextlib.suppress(OSError):
            self.conn.close()

    def close(self, timeout_s: float = 30) -> None:
        """Ask the actor to close its engine (which frees vLLM's own resources), then make sure."""
        if self.process.is_alive():
            self._outbox.put((0, "close", ()))
            self.process.join(timeout=timeout_s)
        self.kill()


def start_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to Ray (the cluster at `address`; None: start a private local one), on the calling thread.

    A local cluster's GCS and raylet are started with PR_SET_PDEATHSIG, and Linux delivers that signal when the
    *thread* that started them ends, not the process. Started from an actor's start thread, the cluster was
    killed a second after the actors came up, and the run died 60 s later ("Failed to connect to GCS"). So the
    group starts Ray on the learner's main thread before any start thread exists."""
    import ray

    if not ray.is_initialized():
        ray.init(
            address=address or "local",  # not None: that joins whatever cluster `ray start` last ran here
            include_dashboard=False if address is None else None,
            num_cpus=num_cpus if address is None else None,  # a private instance's logical CPUs
            ignore_reinit_error=True,
            log_to_driver=False,
            logging_level="ERROR",  # not its start-up notices (token authentication, dashboard)
        )


class RayHandle:
    """A Ray actor. `options` place it (`rlvr.distributed.cluster.RayCluster.options` under cluster=ray);
    without them it gets `rollout.tensor_parallel_size` GPUs of its own when the cluster has GPUs."""

    def __init__(self, spec: ActorSpec, start_timeout_s: float, options: dict[str, Any] | None = None) -> None:
        import ray

        self.ray = ray
        start_ray()  # a no-op after ActorGroup's own call on the main thread
        if options is None:
            options = {"num_gpus": spec.cfg.rollout.tensor_parallel_size if cuda_devices() else 0, "num_cpus": 0}
        remote = ray.remote(max_restarts=0, max_concurrency=1)(spec.server_class)
        self.actor = remote.options(**options).remote(spec)
        self.refs: dict[int, Any] = {}
        self.last_reply = time.monotonic()
        try:
            self.info = ray.get(self.actor.info.remote(), timeout=start_timeout_s)
        except ray.exceptions.GetTimeoutError:
            self.kill()
            raise ActorDied(f"not ready after {start_timeout_s:g} s (rollout.start_timeout_s)") from None
        except ray.exceptions.RayActorError as exc:
            self.kill()
            refused = _config_error(exc)
            raise (refused or ActorDied(_ray_cause(exc))) from None
        # the processes are ours to clean up only when the actor runs on this machine (a pid from another node
        # can be the pid of anything here)
        self.local = self.info.get("node") == node_id()

    def send(self, ticket: int, command: str, args: tuple) -> None:
        self.refs[ticket] = (self.actor.handle.remote(command, args), time.monotonic())

    def alive(self) -> bool:
        """False when the actor's process is known to be gone (on this machine; elsewhere Ray tells at `wait`)."""
        return not self.local or alive(self.info["pid"])

    def wait(self, ticket: int, timeout_s: float) -> tuple[str, Any, float]:
        ref, sent = self.refs[ticket]
        ray = self.ray
        while True:
            waited = time.monotonic() - max(self.last_reply, sent)
            try:
                value = ray.get(ref, timeout=max(0.01, min(POLL_S * 5, timeout_s - waited)))
            except ray.exceptions.GetTimeoutError:
                if time.monotonic() - max(self.last_reply, sent) > timeout_s:
                    raise ActorFrozen(f"no answer for {timeout_s:g} s (rollout.timeout_s)") from None
                continue
            except ray.exceptions.RayActorError as exc:
                raise ActorDied(_ray_cause(exc)) from None
            except ray.exceptions.RayTaskError as exc:
                del self.refs[ticket]
                self.last_reply = time.monotonic()
                return "error", str(exc.cause) if exc.cause else str(exc).splitlines()[0], 0.0
            del self.refs[ticket]
            busy = time.monotonic() - max(self.last_reply, sent)
            self.last_reply = time.monotonic()
            return "ok", value, busy

    def kill(self) -> None:
        info = getattr(self, "info", None) or {}
        tree = set(info.get("tree", []))
        if tree and os.path.exists(f"/proc/{info['pid']}"):
            tree |= set(descendants(info["pid"]))
        shm = mapped_shm(tree) | set(info.get("shm", []))
        with contextlib.suppress(Exception):
            self.ray.kill(self.actor, no_restart=True)
        if getattr(self, "local", True):
            kill_all(tree)
            unlink_shm(shm)

    def close(self, timeout_s: float = 30) -> None:
        """Close the engine, then end the actor the way Ray expects (`__ray_terminate__`): a worker killed
        outright makes the raylet print a "worker died unexpectedly" paragraph at the end of every run."""
        with contextlib.suppress(Exception):
            self.ray.get(self.actor.close.remote(), timeout=timeout_s)
            self.actor.__ray_terminate__.remote()
            pid, deadline = (getattr(self, "info", None) or {}).get("pid"), time.monotonic() + 10
            while pid and getattr(self, "local", False) and alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        self.kill()


RAY_ACTOR_FIELDS = ("class_name:", "actor_id:", "pid:", "name:", "namespace:", "ip:")


def _config_error(exc: BaseException) -> ConfigError | None:
    """The ConfigError an actor's constructor raised, from the chain of Ray errors around it (bad input is a
    one-line error, not a dead actor)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, ConfigError):
            return exc
        # Ray's ActorDiedError holds the creation task's RayTaskError in its args; that one's `cause` is ours
        inner = [a for a in getattr(exc, "args", ()) if isinstance(a, BaseException)]
        exc, seen = getattr(exc, "cause", None) or exc.__cause__ or (inner[0] if inner else None), seen + 1
    return None


def _ray_cause(exc: Exception) -> str:
    """Why a Ray actor died, in one line: Ray's message without its field listing (the reason and, when it
    never ran, that too)."""
    cause = getattr(exc, "cause", None) or getattr(exc, "error_msg", None) or str(exc)
    text = [line.strip() for line in str(cause).strip().splitlines() if line.strip()]
    reasons = [line for line in text if not line.startswith(RAY_ACTOR_FIELDS)]
    return " ".join(reasons[-2:]) if reasons else type(exc).__name__


def cuda_devices() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@contextlib.contextmanager
def _visible_gpus(gpus: tuple[int, ...]):
    """CUDA_VISIBLE_DEVICES for a child started inside the block (spawn copies the environment at start).
    `gpus` are this process's device indices: under a CUDA_VISIBLE_DEVICES of the user's (4,5), device 1 is 5."""
    if not gpus:
        yield
        return
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    visible = [d.strip() for d in before.split(",")] if before else None
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(visible[g] if visible else str(g) for g in gpus)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before


def actor_gpus(actors: int, per_actor: int, devices: int, learner_gpus: int = 1) -> list[tuple[int, ...]]:
    """CUDA devices for each actor: after the learner's devices (0 .. learner_gpus - 1: one per rank) when there
    are enough for everyone, else from device 0 (actors share the learner's GPUs, each engine with its own
    memory budget). No GPUs: none."""
    if devices == 0:
        return [() for _ in range(actors)]
    first = learner_gpus if devices >= learner_gpus + actors * per_actor else 0
    if first + actors * per_actor > devices:
        raise RolloutError(
            f"rollout.actors={actors} x rollout.tensor_parallel_size={per_actor} GPUs do not fit on {devices} GPUs"
        )
    return [tuple(range(first + i * per_actor, first + (i + 1) * per_actor)) for i in range(actors)]


# ---- one actor: requests, restarts ----------------------------------------------------------------------


class Actor:
    """One engine process behind a handle, with the requests it has not answered yet; restarts it when it
    dies or freezes and issues those requests again."""

    def __init__(
        self,
        spec: ActorSpec,
        backend: str,
        ray_options: dict[str, Any] | None = None,
        channel: dict[str, Any] | None = None,
        workers: int = 1,
    ) -> None:
        """`channel`: where broadcast weights come from (`rlvr.rollout.broadcast`), None under file transport;
        `workers`: the engine's processes that each receive them (vLLM's tensor-parallel workers)."""
        self.spec = spec
        self.backend = backend
        self.ray_options = ray_options
        self.channel = channel
        self.workers = workers
        self.restarts = 0
        self.in_a_row = 0
        self.events: list[dict[str, Any]] = []
        self.pending: dict[int, tuple[str, tuple]] = {}  # ticket -> request, in order
        self.weights: WeightFile | BroadcastWeights | None = None  # the newest version sent
        self.loaded_version = -1
        self.busy_s = 0.0
        self._tickets = 0
        self.handle = self._start()

    @property
    def member(self) -> str:
        """The name this process receives broadcast weights under: a replaced actor is a new member."""
        return f"actor{self.spec.index}.{self.restarts}"

    @property
    def members(self) -> list[str]:
        """The receivers in this actor's engine, one per worker."""
        return [f"{self.member}.w{k}" for k in range(self.workers)]

    def _start(self) -> ProcessHandle | RayHandle:
        timeout = self.spec.cfg.rollout.start_timeout_s
        spec = self.spec
        if self.channel is not None:
            spec = replace(
                spec, options=(*spec.options, ("weights_channel", self.channel), ("weights_member", self.member))
            )
        try:
            if self.backend == "ray":
                return RayHandle(spec, timeout, self.ray_options)
            return ProcessHandle(spec, timeout)
        except ActorDied as exc:
            raise RolloutError(f"rollout actor {self.spec.index} ({self.backend}) failed to start: {exc}") from None

    @property
    def node(self) -> str:
        """The machine the actor runs on (where a weight file's path means something)."""
        return self.handle.info.get("node", "")

    def alive(self) -> bool:
        return self.handle.alive()

    def load(self, weights: WeightFile | BroadcastWeights) -> int:
        """Queue the load of `weights` (remembered: a restarted actor loads them first)."""
        self.weights = weights
        return self.submit("load_weights", weights.payload_for(self.node), weights.version)

    def submit(self, command: str, *args: Any) -> int:
        self._tickets += 1
        self.pending[self._tickets] = (command, args)
        self.handle.send(self._tickets, command, args)
        return self._tickets

    def result(self, ticket: int) -> Any:
        """Wait for `ticket`; restart the actor and issue its unanswered requests again on death or freeze.
        Other callers' requests stay theirs to collect; weight loads queued before this one are settled too
        (they were answered first: an actor serves in order)."""
        value = self._wait(ticket)
        for load in [t for t, (command, _) in self.pending.items() if command == "load_weights" and t < ticket]:
            self._wait(load)
        return value

    def _wait(self, ticket: int) -> Any:
        while True:
            try:
                status, value, busy_s = self.handle.wait(ticket, self.spec.cfg.rollout.timeout_s)
            except (ActorDied, ActorFrozen) as exc:
                self.restart(f"{type(exc).__name__.removeprefix('Actor').lower()}: {exc}")
                continue
            command, args = self.pending.pop(ticket)
            self.in_a_row = 0
            self.busy_s += busy_s
            if status == "error":
                raise RolloutError(f"rollout actor {self.spec.index}: {command} failed: {value}")
            if command == "load_weights":
                self.loaded_version = max(self.loaded_version, args[1])
            return value

    def restart(self, reason: str) -> None:
        """Replace the process, load the newest weights, and issue the unanswered requests again (under their
        own tickets, in their order, after the load)."""
        self.in_a_row += 1
        if self.in_a_row > MAX_RESTARTS:
            raise RolloutError(
                f"rollout actor {self.spec.index} failed {MAX_RESTARTS + 1} times in a row; last: {reason}"
            )
        self.handle.kill()
        self.restarts += 1  # first: the new process is a new member of the broadcast group
        self.handle = self._start()
        self.events.append({"event": "rollout_restart", "actor": self.spec.index, "reason": reason})
        unanswered = list(self.pending.items())
        self.pending.clear()
        if self.weights is not None:
            self.load(self.weights.standalone())  # a version broadcast before it started: from a file
        for ticket, (command, args) in unanswered:
            if command == "load_weights":
                continue  # the newest weights are loaded above; an older load would go back
            self.pending[ticket] = (command, args)
            self.handle.send(ticket, command, args)

    def close(self) -> None:
        self.handle.close()


# ---- the group: the RolloutEngine the learner sees ------------------------------------------------------


def split(samples: Sequence[Sample], parts: int) -> list[tuple[int, int]]:
    """Contiguous (start, end) slices of `samples` for `parts` actors, sizes differing by at most one; empty
    slices are left out (fewer prompts than actors)."""
    base, extra = divmod(len(samples), parts)
    bounds, start = [], 0
    for i in range(parts):
        end = start + base + (1 if i < extra else 0)
        if end > start:
            bounds.append((start, end))
        start = end
    return bounds


@dataclass
class PendingGroup:
    """A generation split across actors; `result()` gathers the parts in the order of the samples."""

    group: ActorGroup
    parts: list[tuple[Actor, int]]  # (actor, ticket) per slice, in sample order

    def result(self) -> list[list[Rollout]]:
        groups: list[list[Rollout]] = []
        for actor, ticket in self.parts:
            groups += actor.result(ticket)
        self.group.forget_old_weights()
        return groups


class ActorGroup:
    """`rollout.actors` engines in processes of their own, behind the RolloutEngine protocol."""

    def __init__(
        self, cfg: TrainConfig, backend: str, dtype, cluster=None, weights: NamedTensors | None = None
    ) -> None:
        """`cluster`: the run's `rlvr.distributed.cluster.RayCluster` under cluster=ray (it places the actors);
        `weights`: the learner's (`named_weights`), whose writer hosts the broadcast channel under
        `rollout.weight_transport=broadcast` (learner ranks open it on rank 0, `open_channel`)."""
        self.cfg = cfg
        self.dtype = dtype  # the sampling dtype the weights travel in
        self.weight_version = 0
        self._files: list[WeightFile | BroadcastWeights] = []
        self._events: list[dict[str, Any]] = []
        self._first_actor = 0  # where the next submission's first slice goes (see `submit`)
        self.sender: Sender | None = None  # the broadcast's writer end, when it is this process
        remove_orphans()
        r = cfg.rollout
        gpus = actor_gpus(
            r.actors, r.tensor_parallel_size, cuda_devices() if backend == "process" else 0, cfg.learner.world_size
        )
        channel = None
        if r.weight_transport == "broadcast":
            self._check_own_gpus(gpus, cluster)
            channel = self._open_channel(weights)
        workers = r.tensor_parallel_size if r.backend == "vllm" else 1
        specs = [ActorSpec(cfg, i, os.getpid(), gpus[i], parent_node=node_id()) for i in range(r.actors)]
        if backend == "ray":
            start_ray()  # here, on this thread: see start_ray
        self.actors: list[Actor] = []
        errors: list[BaseException] = []

        def start(spec: ActorSpec) -> None:
            try:
                options = cluster.options("actor", spec.index) if cluster is not None else None
                self.actors.append(Actor(spec, backend, options, channel, workers))
            except BaseException as exc:  # reported below, after every start has ended
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(spec,), daemon=True) for spec in specs]
        for thread in threads:  # engines start in parallel (a vLLM start takes tens of seconds)
            thread.start()
        for thread in threads:
            thread.join()
        self.actors.sort(key=lambda a: a.spec.index)
        if errors:
            self.close()
            raise errors[0]

    def _check_own_gpus(self, gpus: list[tuple[int, ...]], cluster) -> None:
        """NCCL takes one process per GPU: a broadcast group cannot include actors on the learner's GPUs. Under
        cluster=ray the learner is on the cluster's GPUs (cluster.gpus_per_node), whatever this driver has."""
        from rlvr.model import resolve_device

        if cluster is not None:
            on_gpu = self.cfg.cluster.gpus_per_node > 0 and self.cfg.model.device != "cpu"
        else:
            on_gpu = resolve_device(self.cfg.model.device).type == "cuda"
        if not on_gpu:
            return
        shared = any(g and min(g) < self.cfg.learner.world_size for g in gpus)
        if shared or (cluster is not None and self.cfg.cluster.actor_gpus == 0):
            raise ConfigError(
                "rollout.weight_transport=broadcast needs the actors on GPUs of their own (NCCL takes one process "
                "per GPU) and these share the learner's: set rollout.weight_transport=file"
            )

    def _open_channel(self, weights: NamedTensors | None) -> dict[str, Any]:
        """Where the actors receive broadcast weights from: rank 0 of sharded learner ranks, else this process."""
        from rlvr.model import resolve_device

        depth = max(1, self.cfg.rollout.max_staleness)
        open_channel = getattr(weights, "open_channel", None)
        if open_channel is not None:
            return open_channel(depth)
        device = resolve_device(self.cfg.model.device)  # the learner is this process
        self.sender = Sender(group_backend(device), device, depth=depth)
        return self.sender.channel.as_dict()

    @property
    def restarts(self) -> int:
        return sum(a.restarts for a in self.actors)

    @property
    def busy_s(self) -> float:
        """Seconds the actors have spent serving requests, summed over actors."""
        return sum(a.busy_s for a in self.actors)

    def events(self) -> list[dict[str, Any]]:
        out, self._events = self._events, []
        for actor in self.actors:
            out += actor.events
            actor.events = []
        return out

    def submit(self, samples: Sequence[Sample], params: SamplingParams) -> PendingGroup:
        """Start generating at once on every actor; each slice gets its own seed (derived from `params.seed`
        and its position), so a run is reproducible for a given number of actors.

        When a step has fewer prompts than there are actors, the next submission starts where this one ended,
        so steps generated ahead (`rollout.max_staleness` >= 1) run on different actors at the same time
        instead of queueing on the first ones."""
        parts = []
        slices = split(samples, len(self.actors))
        for i, (start, end) in enumerate(slices):
            actor = self.actors[(self._first_actor + i) % len(self.actors)]
            seed = None if params.seed is None else params.seed * 31 + i
            part_params = replace(params, seed=seed)
            parts.append((actor, actor.submit("generate", list(samples[start:end]), part_params)))
        self._first_actor = (self._first_actor + len(slices)) % len(self.actors)
        return PendingGroup(self, parts)

    def generate(self, samples: Sequence[Sample], params: SamplingParams) -> list[list[Rollout]]:
        return self.submit(samples, params).result()

    def update_weights(self, named_tensors: NamedTensors, version: int) -> dict[str, float]:
        """Send the weights once and queue their load on every actor (in parallel, behind whatever each is
        doing); returns once they are sent. Every later generation on an actor uses them.

        Under `rollout.weight_transport=broadcast` they go to every actor over the broadcast group, else (and
        for a version the broadcast could not deliver) into one weight file."""
        start = time.perf_counter()
        weights, failed = None, 0
        if self.cfg.rollout.weight_transport == "broadcast":
            weights, failed = self._broadcast(named_tensors, version)
        if weights is None:
            weights = self._write_file(named_tensors, version)
            weights.settles = failed
        self._files.append(weights)
        for actor in self.actors:
            actor.load(weights)
        self.weight_version = version
        seconds = time.perf_counter() - start
        return {
            "rollout/sync_s": seconds,
            "rollout/sync_mb": weights.megabytes,
            "rollout/sync_mb_per_s": weights.megabytes / max(seconds, 1e-9),
        }

    def _write_file(self, named_tensors: NamedTensors, version: int) -> WeightFile:
        """The weights in one file, in the sampling dtype. Weights that can write their own (`write_file`:
        learner ranks, where rank 0 gathers them shard by shard) are written there and handed over as they
        are: the driver never holds them."""
        write_file = getattr(named_tensors, "write_file", None)
        if write_file is not None:
            return write_file(version, self.dtype, {actor.node for actor in self.actors})
        return WeightFile(named_tensors, version, self.dtype)

    def _broadcast(self, named_tensors: NamedTensors, version: int) -> tuple[BroadcastWeights | None, int]:
        """Broadcast `version` to every actor; (None, the failed send) when it could not be (a file carries it
        instead, naming that send so that a copy staged anyway is dropped).

        An actor found dead is not waited for: the version goes by file, which its replacement loads when it
        restarts, and the next version forms a group with the new process."""
        dead = [actor.spec.index for actor in self.actors if not actor.alive()]
        reason, failed = (f"actor {dead[0]} is not running" if dead else None), 0
        members = [m for actor in self.actors for m in actor.members]
        if reason is None:
            try:
                send = getattr(named_tensors, "broadcast", None)  # learner ranks: rank 0 sends as it gathers
                if send is not None:
                    megabytes, sequence = send(version, self.dtype, members)
                else:
                    specs = [(name, tuple(t.shape), self.dtype or t.dtype) for name, t in named_tensors()]
                    megabytes, sequence = self.sender.send(version, named_tensors, specs, members)
                file = lambda: self._write_file(named_tensors, version)  # noqa: E731
                return BroadcastWeights(version, sequence, megabytes, file), 0
            except BroadcastFailed as exc:
                reason, failed = str(exc), exc.sequence
        self._events.append({"event": "weights_broadcast_failed", "version": version, "reason": reason})
        return None, failed

    def wait_for_weights(self) -> None:
        """Until every actor has loaded the newest weights (and everything queued before them)."""
        for actor in self.actors:
            loads = [t for t, (command, _) in actor.pending.items() if command == "load_weights"]
            if loads:
                actor.result(loads[-1])
        self.forget_old_weights()

    def forget_old_weights(self) -> None:
        """Delete the weight files every actor has moved past (the newest stays: a restart loads it)."""
        loaded = min((a.loaded_version for a in self.actors), default=-1)
        newest = self._files[-1] if self._files else None
        for weights in [w for w in self._files if w is not newest and w.version <= loaded]:
            weights.remove()
            self._files.remove(weights)

    def close(self) -> None:
        """Close every actor (each kills its tree and unlinks its shared memory) and delete the weight files."""
        for actor in self.actors:
            with contextlib.suppress(Exception):
                actor.close()
        for weights in self._files:
            weights.remove()
        self._files = []
        self.sender = None  # its store closes with it
        remove_files_of(os.getpid())  # one interrupted while being written, too
