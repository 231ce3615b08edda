"""Config schemas: dataclasses registered in Hydra's ConfigStore, so a mistyped key or value fails loudly.

Every field says what it means, its default, and where the idea comes from. `rlvr train --cfg job` prints the
composed config; `recipes/` holds the YAML that fills these in.

Validation that types alone cannot express (ranges, combinations) lives in `__post_init__`, which runs when
the composed config is turned into these objects (`to_config`), before anything heavy starts.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from rlvr.errors import ConfigError


@dataclass
class LoraConfig:
    rank: int = 0  #: LoRA rank; 0 trains all weights (peft's LoraConfig.r)
    alpha: int = 32  #: LoRA scaling alpha
    dropout: float = 0.0
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )


@dataclass
class ModelConfig:
    path: str = MISSING  #: hub name or local `save_pretrained` directory
    tokenizer: str | None = None  #: defaults to `path`
    from_config: bool = False  #: random init with `path`'s architecture (no weights needed; CI smoke runs)
    dtype: str = "float32"  #: float32 | bfloat16 | float16: dtype of the weights the engine samples with
    master_dtype: str = "float32"  #: dtype of the trained weights and optimizer state (fp32 master weights)
    device: str = "auto"  #: auto (cuda if available, else cpu) | cpu | cuda | cuda:N
    attn_implementation: str | None = None  #: e.g. sdpa, eager, flash_attention_2; None = transformers' choice
    gradient_checkpointing: bool = False
    lora: LoraConfig = field(default_factory=LoraConfig)
    adapter: str | None = None  #: a PEFT LoRA adapter directory to load on top of `path`
    checkpoint: str | None = None  #: an rlvr checkpoint directory (run_dir/checkpoints/step_N) to load weights from

    def __post_init__(self) -> None:
        for name in ("dtype", "master_dtype"):
            if getattr(self, name) not in ("float32", "bfloat16", "float16"):
                raise ConfigError(f"model.{name} must be float32, bfloat16 or float16, got {getattr(self, name)!r}")
        # Local paths are made absolute, so the run's config.yaml and a LoRA adapter's base path still point
        # at them from any other directory (`rlvr export`, `model.adapter=` from elsewhere).
        for name in ("path", "tokenizer", "adapter", "checkpoint"):
            value = getattr(self, name)
            if isinstance(value, str) and value and Path(value).expanduser().exists():
                setattr(self, name, str(Path(value).expanduser().resolve()))


@dataclass
class DataConfig:
    path: str = MISSING  #: local .json/.jsonl/.parquet file, or a hub dataset name
    split: str = "train"  #: split of a hub dataset
    problem_key: str = "problem"  #: row field holding the question
    answer_key: str | None = "answer"  #: row field with the gold answer (None when rewards use tests)
    tests_key: str | None = None  #: row field with unit tests (code tasks)
    id_key: str | None = None  #: row field with a stable id; default: the row index
    template: str = "book"  #: book | code | chat | raw | a format string with {problem}
    system_prompt: str | None = None  #: system message for template=chat
    shuffle: bool = True  #: shuffle once per epoch with the run seed (False: file order, as the book)
    limit: int | None = None  #: use only the first N rows
    max_prompt_tokens: int | None = None  #: drop rows whose rendered prompt is longer (verl's filter_overlong_prompts)
    #: show the first N unit tests after the problem, as MBPP's prompt does ("Your code should pass these
    #: tests:"): they name the function and its signature
    tests_in_prompt: int = 0

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise ConfigError(f"data.limit must be >= 0 (or null for all rows), got {self.limit}")
        if self.tests_in_prompt < 0 or (self.tests_in_prompt and not self.tests_key):
            raise ConfigError(f"data.tests_in_prompt must be >= 0 and needs data.tests_key, got {self.tests_in_prompt}")
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 1:
            raise ConfigError(
                f"data.max_prompt_tokens must be >= 1 (or null to keep every row), got {self.max_prompt_tokens}"
            )


@dataclass
class EvalConfig:
    data: DataConfig | None = None  #: held-out problems; None disables evaluation
    every: int = 0  #: evaluate every N steps during training; 0 = only before/after
    before_training: bool = True
    after_training: bool = True
    max_tokens: int = 512  #: generation cap at eval (the book uses 2048 on MATH-500)
    temperature: float = 0.0  #: 0 = greedy (pass@1)
    top_p: float = 1.0
    n: int = 1  #: samples per problem (pass@k / maj@k need n >= k)
    ks: list[int] | None = None  #: k of pass@k and maj@k; default 1, 2, 4, ... below n, and n itself
    batch_size: int = 64  #: prompts per generation call
    fallback_last_number: bool = False  #: grade the last number when there is no \\boxed{} (lenient eval)
    #: reward function that grades the held-out set (full marks = correct): math_accuracy, code_pass_rate,
    #: any registered name, `module:fn` or `file.py:fn`; the training entry with the same fn lends its settings
    reward: str = "math_accuracy"

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ConfigError(f"eval.max_tokens must be >= 1, got {self.max_tokens}")
        if self.n < 1 or self.batch_size < 1:
            raise ConfigError(f"eval.n and eval.batch_size must be >= 1, got {self.n} and {self.batch_size}")
        if self.temperature < 0:
            raise ConfigError(f"eval.temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if self.n > 1 and self.temperature == 0:
            raise ConfigError(
                f"eval.n={self.n} with eval.temperature=0: greedy decoding gives {self.n} identical samples, so "
                "pass@k would equal pass@1; set eval.temperature > 0 (e.g. 0.6) or eval.n=1"
            )
        if self.ks is not None and not all(1 <= k <= self.n for k in self.ks):
            raise ConfigError(f"eval.ks={list(self.ks)}: every k of pass@k/maj@k needs 1 <= k <= eval.n={self.n}")

    @property
    def enabled(self) -> bool:
        """Whether training evaluates at all (otherwise `eval.data` is never read)."""
        return self.data is not None and (self.before_training or self.after_training or self.every > 0)


@dataclass
class RolloutConfig:
    backend: str = "hf"  #: hf (transformers, runs anywhere) | vllm (rlvr.rollout.factory.BACKENDS)
    mode: str = "colocate"  #: colocate (engine in the learner process) | actor (engines in processes of their own)
    #: actor mode: ray (a Ray actor) | process (a subprocess) | auto (ray under cluster=ray, else process)
    actor_backend: str = "auto"
    actors: int = 1  #: actor mode: engines, each in its own process; a step's prompts are split across them
    threads: int = 0  #: torch CPU threads of each actor process; 0 = torch's default
    max_staleness: int = 0  #: generate up to k optimizer steps ahead of the learner (0: on-policy, synchronous)
    tensor_parallel_size: int = 1  #: vllm: GPUs per engine
    timeout_s: float = 1800.0  #: an actor that answers no generation for this long is restarted (frozen engine)
    start_timeout_s: float = 900.0  #: an actor that is not ready after this long has failed to start
    group_size: int = 8  #: rollouts per prompt (GRPO's G)
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  #: 0 = off
    max_tokens: int = 256  #: new tokens per completion
    stop: list[str] = field(default_factory=list)  #: extra stop strings (EOS always stops)
    batch_size: int = 64  #: sequences per generation call (hf)
    sync_every: int = 1  #: push learner weights to the engine every N optimizer steps
    #: actor mode: how weights reach the actors. file (one safetensors file per version in /dev/shm, read by
    #: every actor) | broadcast (a process group from the weights' writer to every actor: NCCL between GPUs,
    #: gloo on CPU; rlvr.rollout.broadcast)
    weight_transport: str = "file"
    gpu_memory_utilization: float = 0.5  #: vllm
    max_model_len: int | None = None  #: vllm; default prompt + max_tokens of the longest prompt
    sleep: bool = True  #: vllm colocate on GPU: free the KV cache and weights while the learner steps
    enforce_eager: bool = False  #: vllm: skip graph capture/compilation (faster start, slower steps on GPU)

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ConfigError(f"rollout.max_tokens must be >= 1, got {self.max_tokens}")
        if self.group_size < 2:
            raise ConfigError(f"rollout.group_size must be >= 2 for group-relative advantages, got {self.group_size}")
        if self.mode not in ("colocate", "actor"):
            raise ConfigError(f"rollout.mode must be colocate or actor, got {self.mode!r}")
        if self.actor_backend not in ("auto", "ray", "process"):
            raise ConfigError(f"rollout.actor_backend must be auto, ray or process, got {self.actor_backend!r}")
        if not 0.0 < self.top_p <= 1.0 or self.temperature < 0.0:
            raise ConfigError("rollout.top_p must be in (0, 1] and rollout.temperature >= 0")
        if self.temperature == 0.0:
            raise ConfigError(
                f"rollout.temperature=0 makes the {self.group_size} rollouts of a group identical: every group is "
                "constant and nothing trains; sample with rollout.temperature > 0 (1.0 is usual)"
            )
        if self.top_k < 0:
            raise ConfigError(f"rollout.top_k must be >= 0 (0 = off), got {self.top_k}")
        if self.actors < 1:
            raise ConfigError(f"rollout.actors must be >= 1, got {self.actors}")
        if self.actors > 1 and self.mode == "colocate":
            raise ConfigError(
                f"rollout.actors={self.actors} needs rollout.mode=actor (a colocated engine lives in the learner's "
                "process, and there is one learner)"
            )
        if self.max_staleness < 0:
            raise ConfigError(f"rollout.max_staleness must be >= 0 (0 = on-policy), got {self.max_staleness}")
        if self.max_staleness > 0 and self.mode == "colocate":
            raise ConfigError(
                f"rollout.max_staleness={self.max_staleness} needs rollout.mode=actor: a colocated engine shares the "
                "learner's process and weights, so it cannot generate while the learner trains"
            )
        if self.threads < 0 or self.tensor_parallel_size < 1:
            raise ConfigError("rollout.threads must be >= 0 and rollout.tensor_parallel_size >= 1")
        if self.timeout_s <= 0 or self.start_timeout_s <= 0:
            raise ConfigError("rollout.timeout_s and rollout.start_timeout_s must be > 0 (seconds)")
        if self.sync_every < 1:
            raise ConfigError(f"rollout.sync_every must be >= 1 (optimizer steps between syncs), got {self.sync_every}")
        if self.weight_transport not in ("file", "broadcast"):
            raise ConfigError(f"rollout.weight_transport must be file or broadcast, got {self.weight_transport!r}")
        if self.weight_transport == "broadcast" and self.mode != "actor":
            raise ConfigError(
                "rollout.weight_transport=broadcast needs rollout.mode=actor (a colocated engine shares "
                "the learner's weights)"
            )
        if self.weight_transport == "broadcast" and self.sync_every != 1:
            raise ConfigError(
                "rollout.weight_transport=broadcast needs rollout.sync_every=1: a broadcast keeps no copy of a synced "
                "version, so a replaced actor loads the learner's current weights, which are the synced ones only "
                "when every update is synced"
            )
        if self.batch_size < 1:
            raise ConfigError(f"rollout.batch_size must be >= 1, got {self.batch_size}")
        if self.max_model_len is not None and self.max_model_len <= self.max_tokens:
            raise ConfigError(
                f"rollout.max_model_len={self.max_model_len} leaves no room for a prompt beside "
                f"rollout.max_tokens={self.max_tokens}"
            )


@dataclass
class AlgoConfig:
    name: str = "grpo"  #: label for logs
    adv_scale: str = "group_std"  #: group_std (GRPO) | batch_std (TRL scale_rewards=batch) | none (Dr. GRPO)
    multi_reward: str = "sum_then_normalize"  #: sum_then_normalize (GRPO) | gdpo (GDPO)
    eps: float = 1e-6  #: added to every std
    loss_agg: str = "token_mean"  #: token_mean (DAPO) | seq_mean_token_mean (GRPO) | ..._sum_norm (Dr. GRPO) | ..._sum
    policy_loss: str = "ppo_clip"  #: the per-token surrogate (rlvr.algo.losses.POLICY_LOSSES)
    clip_low: float = 0.2  #: PPO ratio clip below 1
    clip_high: float = 0.2  #: PPO ratio clip above 1; 0.28 is DAPO's clip-higher
    kl_beta: float = 0.0  #: KL penalty weight; 0 loads no reference model (DAPO, Dr. GRPO, the book)
    kl_estimator: str = "k3"  #: k1 | k3 (Schulman's estimators; k3 is DeepSeekMath's)
    zero_variance: str = "keep"  #: keep | skip | resample (DAPO dynamic sampling)
    max_resample_rounds: int = 3  #: resample: extra generation rounds per step before training on what we have
    overlong: str = "none"  #: none | mask | soft_penalty (DAPO)
    overlong_buffer: int = 0  #: soft_penalty: tokens before max_tokens where the penalty ramps in
    num_iterations: int = 1  #: optimizer passes over each batch (>1 makes the clip matter)
    #: cap of the behaviour importance weight min(pi_learner / pi_sampler, cap): corrects for an engine with
    #: other numerics (TIS) and for stale rollouts (rollout.max_staleness, AReaL's decoupled objective); 0 = off
    tis_cap: float = 0.0

    def __post_init__(self) -> None:
        from rlvr import algo  # the registries define the values (imported here: it needs torch)

        options = {
            "adv_scale": algo.ADV_SCALES.names(),
            "multi_reward": algo.MULTI_REWARDS.names(),
            "loss_agg": algo.LOSS_AGGS.names(),
            "policy_loss": algo.POLICY_LOSSES.names(),
            "kl_estimator": algo.KL_ESTIMATORS.names(),
            "zero_variance": algo.ZERO_VARIANCE,
            "overlong": algo.OVERLONG,
        }
        for name, allowed in options.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"algo.{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.clip_low < 0 or self.clip_high < 0 or self.kl_beta < 0:
            raise ConfigError("algo.clip_low, algo.clip_high and algo.kl_beta must be >= 0")
        if self.num_iterations < 1:
            raise ConfigError(f"algo.num_iterations must be >= 1, got {self.num_iterations}")
        if self.overlong == "soft_penalty" and self.overlong_buffer < 1:
            raise ConfigError("algo.overlong=soft_penalty needs algo.overlong_buffer >= 1 (tokens)")
        if self.max_resample_rounds < 0:
            raise ConfigError(f"algo.max_resample_rounds must be >= 0, got {self.max_resample_rounds}")


@dataclass
class OptimConfig:
    lr: float = 1e-6
    #: learning rate when model.lora.rank > 0 (LoRA wants ~10x the full-weight rate); None = optim.lr
    lora_lr: float | None = None
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    grad_clip: float = 1.0  #: max grad norm; 0 = off
    warmup_steps: int = 0
    schedule: str = "constant"  #: constant | cosine | linear (decay to 0 at the last step, after warmup)
    micro_batch_size: int = 8  #: sequences per forward/backward at most; gradients accumulate to the full batch
    #: token positions per forward/backward at most: rows x (widest prompt + widest completion), or where rows
    #: share their prompt's forward, distinct prompts x widest prompt + rows x widest completion (the prompt's
    #: keys and values, copied to each row, are not counted: a few % of a position's activations); 0 = no limit
    micro_batch_tokens: int = 0

    def __post_init__(self) -> None:
        if self.lora_lr is not None and self.lora_lr <= 0:
            raise ConfigError(f"optim.lora_lr must be > 0 (or null to use optim.lr), got {self.lora_lr}")
        if self.lr <= 0 or self.micro_batch_size < 1 or self.micro_batch_tokens < 0:
            raise ConfigError("optim.lr must be > 0, optim.micro_batch_size >= 1 and optim.micro_batch_tokens >= 0")
        if self.schedule not in ("constant", "cosine", "linear"):
            raise ConfigError(f"optim.schedule must be constant, cosine or linear, got {self.schedule!r}")


@dataclass
class LearnerConfig:
    """How many processes train the policy (`rlvr.distributed`)."""

    #: learner ranks; > 1 shards the policy with FSDP2 over that many processes (one GPU each, or CPU cores),
    #: each training on its slice of the step's batch; needs rollout.mode=actor (the ranks hold only shards)
    world_size: int = 1
    cpu_offload: bool = False  #: FSDP2 keeps parameters, gradients and optimizer state in CPU memory
    timeout_s: float = 1800.0  #: a rank that answers nothing for this long stops the run (a hung collective)

    def __post_init__(self) -> None:
        if self.world_size < 1:
            raise ConfigError(f"learner.world_size must be >= 1, got {self.world_size}")
        if self.timeout_s <= 0:
            raise ConfigError(f"learner.timeout_s must be > 0, got {self.timeout_s}")


@dataclass
class ClusterConfig:
    """Where learner ranks and rollout actors run (`rlvr.distributed.cluster`). `cluster=local` (the default):
    processes on this machine, no Ray needed. `cluster=ray`: Ray places them (placement groups), on one
    machine or many; the same recipes and command."""

    kind: str = "local"  #: local | ray (set by the group: `cluster=ray`)
    #: ray: the cluster to join, "auto" (the one `ray start --head` runs here) or "host:port"; null = a private
    #: Ray instance started for this run and stopped with it
    address: str | None = None
    nodes: int = 1  #: ray: nodes the run spans (the cluster must have them when the run starts)
    gpus_per_node: int = 0  #: ray: GPUs per node the run may use; 0 = a CPU cluster
    #: ray: GPUs of its own per rollout actor (>= rollout.tensor_parallel_size); 0 = actors share the learner
    #: ranks' GPUs (colocated, each with rollout.gpu_memory_utilization of it)
    actor_gpus: int = 0
    timeout_s: float = 300.0  #: ray: how long to wait for the cluster to place the run's processes

    def __post_init__(self) -> None:
        if self.kind not in ("local", "ray"):
            raise ConfigError(f"cluster must be local or ray, got {self.kind!r}")
        if self.nodes < 1 or self.gpus_per_node < 0 or self.actor_gpus < 0 or self.timeout_s <= 0:
            raise ConfigError(
                "cluster.nodes must be >= 1, cluster.gpus_per_node and cluster.actor_gpus >= 0, cluster.timeout_s > 0"
            )
        placed = self.address is not None or self.nodes > 1 or self.actor_gpus or self.gpus_per_node
        if self.kind == "local" and placed:
            raise ConfigError(
                "cluster.address, cluster.nodes, cluster.gpus_per_node and cluster.actor_gpus place processes with "
                "Ray: add cluster=ray"
            )


@dataclass
class TrackingConfig:
    wandb: str = "offline"  #: offline (default, no account needed) | online | disabled
    project: str = "rlvr"
    log_samples: int | None = 8  #: groups per step whose completions go to samples.jsonl (and wandb); None = all
    progress: bool = True  #: rich progress bar with ETA
    plots: bool = True  #: draw run_dir/plots/*.png and metrics.png at the end of the run (`rlvr plot` any time)

    def __post_init__(self) -> None:
        if self.log_samples is not None and self.log_samples < 0:
            raise ConfigError(f"tracking.log_samples must be >= 0 (or null for every group), got {self.log_samples}")


@dataclass
class CheckpointConfig:
    every: int = 0  #: save every N steps; 0 = only at the start (rollback target) and the end
    keep: int = 2  #: keep the newest K checkpoints, plus the last good one
    save_final: bool = True  #: also export the final model with save_pretrained to run_dir/model

    def __post_init__(self) -> None:
        if self.every < 0 or self.keep < 1:
            raise ConfigError("checkpoint.every must be >= 0 and checkpoint.keep >= 1")


@dataclass
class RuleConfig:
    """One collapse rule: fires after `patience` consecutive steps in violation."""

    enabled: bool = True
    patience: int = 1
    threshold: float = 0.0  #: the rule's absolute limit (see MonitorConfig for its meaning per rule)
    factor: float = 0.0  #: the rule's relative limit against its running median or best average


@dataclass
class MonitorConfig:
    """Collapse detection and automatic rollback (defaults chosen to stay silent on healthy noisy runs)."""

    enabled: bool = True
    max_rollbacks: int = 3  #: then stop with a clear message (exit code 3)
    good_after: int = 2  #: a checkpoint is "good" once this many steps after it passed the monitor
    warmup: int = 5  #: steps of history before the relative rules (medians, best averages) apply
    window: int = 20  #: running-median window for the relative rules
    average: int = 3  #: moving-average window of reward_drop and format_collapse
    mitigation: list[str] = field(default_factory=lambda: ["lr_factor", "skip_batch"])  #: lr_factor|skip_batch|reseed
    lr_factor: float = 0.5  #: learning-rate multiplier applied at each rollback (mitigation lr_factor)
    #: NaN/Inf in the loss or the gradients
    nan: RuleConfig = field(default_factory=lambda: RuleConfig(patience=1))
    #: grad norm above factor x its running median
    grad_norm_spike: RuleConfig = field(default_factory=lambda: RuleConfig(patience=1, factor=10.0))
    #: reward moving average below (1 - threshold) x its best moving average (once the best >= factor)
    reward_drop: RuleConfig = field(default_factory=lambda: RuleConfig(patience=3, threshold=0.5, factor=0.1))
    #: mean token entropy below threshold (nats)
    entropy_collapse: RuleConfig = field(default_factory=lambda: RuleConfig(patience=3, threshold=1e-3))
    #: mean token entropy above factor x its running median
    entropy_blowup: RuleConfig = field(default_factory=lambda: RuleConfig(patience=2, factor=4.0))
    #: KL of the update (old policy to new) or to the reference: above threshold, or above factor x median
    kl_spike: RuleConfig = field(default_factory=lambda: RuleConfig(patience=1, threshold=1.0, factor=50.0))
    #: fraction of rollouts cut at max_tokens above threshold (runaway length)
    length_runaway: RuleConfig = field(default_factory=lambda: RuleConfig(patience=3, threshold=0.8))
    #: like reward_drop, for each format reward listed in format_rewards
    format_collapse: RuleConfig = field(default_factory=lambda: RuleConfig(patience=3, threshold=0.5, factor=0.3))
    format_rewards: list[str] = field(default_factory=lambda: ["format", "think", "tag_count"])

    def __post_init__(self) -> None:
        unknown = set(self.mitigation) - {"lr_factor", "skip_batch", "reseed"}
        if unknown:
            raise ConfigError(f"monitor.mitigation: unknown {sorted(unknown)}; use lr_factor, skip_batch, reseed")
        if self.max_rollbacks < 0 or self.good_after < 1:
            raise ConfigError("monitor.max_rollbacks must be >= 0 and monitor.good_after >= 1")


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    #: reward functions by name: {fn, weight, timeout_s, ...kwargs} or just the function reference;
    #: `reward.custom=my_reward.py:fn` adds your own (custom is null, i.e. off, by default)
    reward: dict[str, Any] = field(default_factory=lambda: {"custom": None})
    reward_workers: int = 2  #: processes that run reward functions
    #: scoring deadline per step (s): calls unfinished by then are cancelled and score 0 as timeouts; 0 = none
    reward_step_timeout_s: float = 120.0
    #: stop the run (exit 2) once a reward function only timed out for this many steps in a row; 0 = never
    reward_max_timeout_steps: int = 3
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    learner: LearnerConfig = field(default_factory=LearnerConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    resume: str = "none"  #: none | auto (newest complete checkpoint of run_dir) | a checkpoint directory
    overwrite: bool = False  #: delete what a previous run left in run_dir before starting (else refused)
    #: fault injection for tests and rehearsals: +fault.nan_at_step=N, +fault.lr_spike_at_step=N,
    #: +fault.kill_at_step=N (+fault.kill_point=save to die while writing that step's checkpoint)
    fault: dict[str, Any] = field(default_factory=dict)
    steps: int = 50  #: optimizer steps (GRPO iterations)
    prompts_per_step: int = 8  #: prompts per step; each yields rollout.group_size rollouts
    seed: int = 0
    run_dir: str = "runs/default"
    threads: int = 0  #: torch CPU threads; 0 = torch's default

    def __post_init__(self) -> None:
        if self.steps < 0 or self.prompts_per_step < 1:
            raise ConfigError("steps must be >= 0 and prompts_per_step >= 1")
        if self.algo.loss_agg == "seq_mean_token_sum_norm" and self.rollout.max_tokens < 1:
            raise ConfigError("loss_agg=seq_mean_token_sum_norm needs rollout.max_tokens >= 1")
        if self.algo.overlong == "soft_penalty" and self.algo.overlong_buffer >= self.rollout.max_tokens:
            raise ConfigError(
                f"algo.overlong_buffer={self.algo.overlong_buffer} must be smaller than "
                f"rollout.max_tokens={self.rollout.max_tokens} (the penalty ramps in over the last buffer tokens)"
            )
        if self.rollout.max_staleness > 0 and self.algo.tis_cap <= 0:
            raise ConfigError(
                f"rollout.max_staleness={self.rollout.max_staleness} trains on rollouts of older weights: set "
                "algo.tis_cap (e.g. 2.0), the cap of the behaviour importance weight that corrects for it "
                "(or use the preset rollout=async)"
            )
        if self.learner.world_size > 1 and self.rollout.mode != "actor":
            raise ConfigError(
                f"learner.world_size={self.learner.world_size} needs rollout.mode=actor: the learner ranks "
                "hold only shards of the policy, so rollouts come from actors with their own copy"
            )
        self._check_cluster()
        if self.overwrite and self.resume != "none":
            raise ConfigError("overwrite=true deletes run_dir first, so it cannot be combined with resume")
        if not 0 <= self.reward_step_timeout_s < float("inf"):
            raise ConfigError(
                f"reward_step_timeout_s must be a number >= 0 (0 = none), got {self.reward_step_timeout_s}"
            )
        if self.reward_max_timeout_steps < 0:
            raise ConfigError(
                f"reward_max_timeout_steps must be >= 0 (0 = never stop), got {self.reward_max_timeout_steps}"
            )

    def _check_cluster(self) -> None:
        """The cluster settings that depend on the learner's and rollout's (one line each, before any start)."""
        cluster, rollout = self.cluster, self.rollout
        if cluster.kind == "ray" and rollout.actor_backend == "process":
            raise ConfigError("cluster=ray runs rollout actors on Ray: drop rollout.actor_backend=process")
        if cluster.kind != "ray" or cluster.gpus_per_node == 0:
            if cluster.actor_gpus:
                raise ConfigError("cluster.actor_gpus needs GPUs: set cluster.gpus_per_node")
            return
        if self.learner.world_size == 1 and rollout.mode == "actor":
            raise ConfigError(
                "cluster=ray with GPUs places learner ranks, and one learner runs in this process, outside Ray's "
                "placement (an actor could land on its GPU): use learner.world_size >= 2, or cluster=local on one "
                "machine (the learner takes GPU 0, actors the next ones)"
            )
        if cluster.actor_gpus > cluster.gpus_per_node:
            raise ConfigError(
                f"cluster.actor_gpus={cluster.actor_gpus} does not fit on a node of cluster.gpus_per_node="
                f"{cluster.gpus_per_node} (a bundle never spans nodes)"
            )
        if cluster.actor_gpus and cluster.actor_gpus < rollout.tensor_parallel_size:
            raise ConfigError(
                f"cluster.actor_gpus={cluster.actor_gpus} is fewer than rollout.tensor_parallel_size="
                f"{rollout.tensor_parallel_size}, the GPUs each engine spans"
            )
        if not cluster.actor_gpus and rollout.mode == "actor" and rollout.tensor_parallel_size > 1:
            raise ConfigError(
                "actors that share the learner's GPUs (cluster.actor_gpus=0) run one GPU each: set cluster.actor_gpus"
                f" >= rollout.tensor_parallel_size={rollout.tensor_parallel_size}"
            )
        actor_gpus = rollout.actors * cluster.actor_gpus if rollout.mode == "actor" else 0
        needed, have = self.learner.world_size + actor_gpus, cluster.nodes * cluster.gpus_per_node
        if needed > have:
            raise ConfigError(
                f"learner.world_size={self.learner.world_size} + rollout.actors={rollout.actors} x cluster.actor_gpus="
                f"{cluster.actor_gpus} need {needed} GPUs; cluster.nodes={cluster.nodes} x cluster.gpus_per_node="
                f"{cluster.gpus_per_node} give {have}"
            )


def register_configs() -> None:
    """Make the schema available to Hydra as `train_schema` (the first entry of recipes/train.yaml)."""
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)


def to_config(cfg: DictConfig) -> TrainConfig:
    """The composed Hydra config as a validated `TrainConfig` (raises ConfigError with a one-line message)."""
    try:
        return OmegaConf.to_object(cfg)  # type: ignore[return-value]
    except OmegaConfBaseException as exc:
        cause = exc.__cause__
        if isinstance(cause, ConfigError):
            raise cause from None
        raise ConfigError(str(exc).splitlines()[0]) from None


def recipes_dir() -> Path:
    """The config tree: `recipes/` in a source checkout, `rlvr/recipes` in an installed wheel."""
    spec = importlib.util.find_spec("rlvr.recipes")
    if spec and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / "recipes"


def compose(overrides: list[str] | None = None, config_name: str = "train") -> TrainConfig:
    """The config `rlvr train <overrides>` would run, for use from Python (notebooks, tests)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(recipes_dir()), version_base=None):
        return to_config(hydra_compose(config_name=config_name, overrides=list(overrides or [])))


def model_config_of_run(directory: Path) -> ModelConfig:
    """The `model` section of the `config.yaml` of a run or of one of its checkpoints, validated (for tools that
    rebuild a run's policy)."""
    path = directory / "config.yaml"
    try:
        raw = OmegaConf.load(path).get("model")
        merged = OmegaConf.merge(OmegaConf.structured(ModelConfig), raw or {})
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except (OSError, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the run's model config ({str(exc).splitlines()[0]})") from None
