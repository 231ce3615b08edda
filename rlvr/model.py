"""Loading the policy: tokenizer, model (+ PEFT LoRA, an adapter, or an rlvr checkpoint), device and dtypes.

The same `from_pretrained` path for hub names and local `save_pretrained` directories; user mistakes (a path
that does not exist, a model that will not load) are one-line ConfigErrors.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from rlvr.config import LoraConfig as LoraSpec
from rlvr.config import ModelConfig
from rlvr.errors import ConfigError, MissingDependencyError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _check_local(path: str, what: str) -> None:
    """A path that can only be local (absolute, relative, or deeper than the hub's `org/name`) must exist."""
    looks_local = path.startswith(("/", ".", "~")) or path.count("/") > 1
    if looks_local and not Path(path).expanduser().exists():
        raise ConfigError(f"{what} not found: {path}")


def load_tokenizer(cfg: ModelConfig):
    source = cfg.tokenizer or cfg.path
    _check_local(source, "tokenizer path" if cfg.tokenizer else "model path")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load tokenizer {source!r}: {str(exc).splitlines()[0]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _refuse_adapter_as_model(path: str) -> None:
    """A LoRA adapter directory (a LoRA run's `model/`) given as `model.path`: say how to load it instead."""
    local = Path(path).expanduser()
    if (local / "adapter_config.json").exists() and not (local / "config.json").exists():
        import json

        base = json.loads((local / "adapter_config.json").read_text()).get("base_model_name_or_path") or "<base>"
        raise ConfigError(
            f"model.path {path} is a LoRA adapter, not a model: pass model.path={base} model.adapter={path} "
            f"(or merge it first: rlvr export RUN_DIR --out DIR)"
        )


def load_model(cfg: ModelConfig, device: torch.device) -> torch.nn.Module:
    """The policy in `master_dtype` (fp32 by default: the optimizer updates full-precision weights)."""
    _check_local(cfg.path, "model path")
    _refuse_adapter_as_model(cfg.path)
    dtype = DTYPES[cfg.master_dtype]
    kwargs = {"attn_implementation": cfg.attn_implementation} if cfg.attn_implementation else {}
    try:
        if cfg.from_config:
            config = AutoConfig.from_pretrained(cfg.path)
            model = AutoModelForCausalLM.from_config(config, dtype=dtype, **kwargs)
        else:
            model = AutoModelForCausalLM.from_pretrained(cfg.path, dtype=dtype, **kwargs)
    except (OSError, ValueError, SafetensorError) as exc:  # missing, unreadable or truncated weights
        raise ConfigError(f"cannot load model {cfg.path!r}: {str(exc).splitlines()[0]}") from None
    model.to(device)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    lora_cfg = cfg.lora
    if cfg.checkpoint:  # an rlvr checkpoint knows whether it holds an adapter, and of which shape
        lora_cfg = _checkpoint_lora(Path(cfg.checkpoint)) or lora_cfg
    if cfg.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, cfg.adapter, is_trainable=True)
    elif lora_cfg.rank > 0:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError:
            raise MissingDependencyError("model.lora.rank > 0 needs peft: pip install peft") from None
        lora = LoraConfig(
            r=lora_cfg.rank,
            lora_alpha=lora_cfg.alpha,
            lora_dropout=lora_cfg.dropout,
            target_modules=list(lora_cfg.target_modules),
            task_type="CAUSAL_LM",
        )
        with warnings.catch_warnings():  # about tied layers in the adapter: the learner refuses those itself
            warnings.filterwarnings("ignore", message=".*a tied layer is part of the adapter")
            model = get_peft_model(model, lora)
    if cfg.checkpoint:
        from safetensors.torch import load_file

        from rlvr.checkpoint import load_model_tensors

        weights = Path(cfg.checkpoint) / "model.safetensors"
        if not weights.exists():
            raise ConfigError(f"model.checkpoint: {cfg.checkpoint} is not an rlvr checkpoint (no model.safetensors)")
        load_model_tensors(model, load_file(weights, device=str(device)))
    return model


def _checkpoint_lora(path: Path):
    """The LoRA settings a checkpoint was trained with (from its config.yaml), or None."""
    from omegaconf import OmegaConf

    config = path / "config.yaml"
    if not config.exists():
        return None
    lora = OmegaConf.load(config).get("model", {}).get("lora")
    return LoraSpec(**lora) if lora and lora.get("rank", 0) > 0 else None
