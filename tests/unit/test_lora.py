"""LoRA: only the adapter trains, merged weights for sync are W + scale * B @ A, the reference is the base."""

import torch

from rlvr.batching import collate
from rlvr.config import compose
from rlvr.data import load_samples
from rlvr.learner import Learner
from rlvr.model import load_model, load_tokenizer
from rlvr.rollout.base import SamplingParams
from rlvr.rollout.hf import HFEngine
from tests.conftest import tiny_overrides


def test_lora_trains_the_adapter_and_exports_merged_weights(tiny_model_dir, tmp_path):
    cfg = compose(
        tiny_overrides(tiny_model_dir, tmp_path, "model.lora.rank=4", "model.lora.alpha=8", "algo.kl_beta=0.1")
    )
    tokenizer = load_tokenizer(cfg.model)
    learner = Learner(cfg, load_model(cfg.model, torch.device("cpu")), torch.device("cpu"))
    assert learner.ref_model is None  # the reference is the base model with the adapter switched off
    trainable = {n for n, p in learner.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    base_before = {n: t.clone() for n, t in learner.named_weights()}
    rollouts = [r for g in HFEngine(learner.model, tokenizer).generate(
        load_samples(cfg.data, tokenizer)[:2], SamplingParams(n=4, max_tokens=8, seed=0)) for r in g]  # fmt: skip
    batch = collate(rollouts, torch.linspace(-1, 1, 8), torch.ones(8), tokenizer.pad_token_id)
    for group in learner.optimizer.param_groups:
        group["lr"] = 1e-2
    learner.step(batch)
    second = learner.step(batch)
    assert second["learn/kl"] > 0  # KL to the adapter-free base
    merged = dict(learner.named_weights())
    assert merged.keys() == base_before.keys() and not any("lora_" in n for n in merged)
    # independent reference: the adapter's own matrices, W + (alpha / r) * B @ A
    q = learner.model.get_base_model().model.layers[0].self_attn.q_proj
    expected = q.base_layer.weight + (8 / 4) * q.lora_B["default"].weight @ q.lora_A["default"].weight
    assert torch.allclose(merged["model.layers.0.self_attn.q_proj.weight"], expected, atol=1e-6)
    assert not torch.equal(
        merged["model.layers.0.self_attn.q_proj.weight"], base_before["model.layers.0.self_attn.q_proj.weight"]
    )
    assert torch.equal(merged["model.norm.weight"], base_before["model.norm.weight"])


def test_lora_runs_take_optim_lora_lr_and_full_runs_optim_lr(tiny_model_dir, tmp_path):
    def lr_of(*extra):
        cfg = compose(tiny_overrides(tiny_model_dir, tmp_path, "optim.lr=1e-5", "optim.lora_lr=3e-4", *extra))
        learner = Learner(cfg, load_model(cfg.model, torch.device("cpu")), torch.device("cpu"))
        return [group["lr"] for group in learner.optimizer.param_groups]

    assert lr_of("model.lora.rank=4") == [3e-4]
    assert lr_of() == [1e-5]
    assert lr_of("model.lora.rank=4", "optim.lora_lr=null") == [1e-5]  # unset: the one learning rate
