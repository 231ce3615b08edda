"""The policy sharded with FSDP2 (`torch.distributed.fsdp.fully_shard`), the way verl's and TorchTitan's FSDP2
workers do it: each decoder layer is a unit (its weights are gathered for its own forward and backward, then
freed), and the root holds the rest (embeddings, final norm, output head; tied embeddings stay one parameter).

Mixed precision follows the config as a single process does: parameters kept in `model.master_dtype`, computed
in `model.dtype`, gradients reduced in float32. Gradients are *summed* across ranks, not averaged: each rank
scales its loss by its share of the whole batch's tokens (or sequences), so the sum is the gradient one process
would compute on the whole batch."""

from __future__ import annotations

import torch
from torch.distributed.fsdp import CPUOffloadPolicy, FSDPModule, MixedPrecisionPolicy, OffloadPolicy, fully_shard
from torch.distributed.tensor import DTensor

from rlvr.config import TrainConfig
from rlvr.logprobs import token_logprobs
from rlvr.model import DTYPES


def decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The repeated blocks of a transformers model: the classes it names in `_no_split_modules` (what
    accelerate and TRL shard by), found anywhere in the module tree."""
    names = set(getattr(model, "_no_split_modules", None) or [])
    layers = [m for m in model.modules() if type(m).__name__ in names]
    if not layers:
        raise ValueError(f"{type(model).__name__} names no decoder layer class (_no_split_modules): cannot shard it")
    return layers


class ShardedPolicy(torch.nn.Module):
    """The root FSDP unit around a causal LM, whose forward is the learner's token log-probs.

    FSDP2 gathers a unit's weights in that unit's forward hook. The learner's log-probs call the decoder and
    then the output layer itself (`rlvr.logprobs`, in chunks), never the model's own forward, so with the model
    as the root unit its embeddings and output layer would stay sharded; with this module as the root, they are
    gathered for exactly the computation that uses them, and reduced in its backward."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, completion_mask, temperature: float):
        return token_logprobs(self.model, input_ids, attention_mask, completion_mask, temperature, same_passes=True)


def shard(model: torch.nn.Module, cfg: TrainConfig) -> ShardedPolicy:
    """`fully_shard` every decoder layer, then the root (a `ShardedPolicy` around `model`), in place."""
    compute, master = DTYPES[cfg.model.dtype], DTYPES[cfg.model.master_dtype]
    mixed = MixedPrecisionPolicy(param_dtype=compute, reduce_dtype=torch.float32) if compute != master else None
    options = {
        "mp_policy": mixed or MixedPrecisionPolicy(),
        "offload_policy": CPUOffloadPolicy() if cfg.learner.cpu_offload else OffloadPolicy(),
    }
    for layer in decoder_layers(model):
        fully_shard(layer, **options)
    root = fully_shard(ShardedPolicy(model), **options)
    for module in root.modules():
        if isinstance(module, FSDPModule):
            module.set_gradient_divide_factor(1.0)  # sum across ranks (see the module docstring)
            # plain SUM collectives, then the (unit) division: gloo has neither PREMUL_SUM nor AVG
            module.set_force_sum_reduction_for_comms(True)
    return root


def is_sharded(model: torch.nn.Module) -> bool:
    """Whether `model`'s weights are FSDP shards (DTensors)."""
    return any(isinstance(p, DTensor) for p in model.parameters())


def full(tensor: torch.Tensor) -> torch.Tensor:
    """The whole tensor of a shard (every rank must call this, in the same order: it is an all-gather)."""
    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor
