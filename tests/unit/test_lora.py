"""LoRA: only the adapter trains, merged weights for sync are W + scale * B @ A, the reference is the base."""

import pytest
import torch

from rlvr.batching import collate
from rlvr.checkpoint import CheckpointError
from rlvr.config import compose
from rlvr.data import load_samples
from rlvr.errors import ConfigError
from rlvr.learner import Learner, adapter_tensors_by_model_name
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


def saved_adapter(model_dir, out, **settings):
    """An adapter directory as peft writes it, trained on nothing (the refusals below are about its shape)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"], task_type="CAUSAL_LM", **settings)
    get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir), config).save_pretrained(out)
    return out


@pytest.mark.parametrize(
    ("overrides", "adapter", "message"),
    [
        (("model.lora.target_modules=[q_proj,embed_tokens]",), None, "LoRA on model.embed_tokens (Embedding"),
        (("model.lora.target_modules=[q_proj,lm_head]",), None, "LoRA on lm_head, whose weight is tied"),
        ((), {"use_dora": True}, "DoRA (use_dora)"),
        ((), {"bias": "lora_only"}, "bias='lora_only'"),
        ((), {"modules_to_save": ["lm_head"]}, "modules_to_save=['lm_head']"),
    ],
)
def test_an_adapter_the_engines_would_not_sample_from_is_refused(tiny_model_dir, tmp_path, overrides, adapter, message):
    """Engines load W + scale * B @ A of LoRA linear layers; any other trained tensor would never reach them, so
    the run would sample from a policy it does not train. Refused before the first step, naming the reason."""
    extra = [f"model.adapter={saved_adapter(tiny_model_dir, tmp_path / 'adapter', **adapter)}"] if adapter else []
    cfg = compose(tiny_overrides(tiny_model_dir, tmp_path, "model.lora.rank=4", *overrides, *extra))
    with pytest.raises(ConfigError, match="cannot be synced to the rollout engines") as raised:
        Learner(cfg, load_model(cfg.model, torch.device("cpu")), torch.device("cpu"))
    assert message in str(raised.value)


def test_a_plain_saved_adapter_is_accepted(tiny_model_dir, tmp_path):
    adapter = saved_adapter(tiny_model_dir, tmp_path / "adapter")
    cfg = compose(tiny_overrides(tiny_model_dir, tmp_path, f"model.adapter={adapter}"))
    learner = Learner(cfg, load_model(cfg.model, torch.device("cpu")), torch.device("cpu"))
    assert "model.layers.0.self_attn.q_proj.weight" in dict(learner.named_weights())


def test_dropout_is_on_in_the_update_only(tiny_model_dir, tmp_path):
    """LoRA dropout (like any dropout) belongs in the forwards with gradient; the log-probs without gradient
    (old policy, update KL, the next step's forwards before training) are the deterministic policy's."""
    cfg = compose(tiny_overrides(tiny_model_dir, tmp_path, "model.lora.rank=4", "model.lora.dropout=0.5"))
    tokenizer = load_tokenizer(cfg.model)
    learner = Learner(cfg, load_model(cfg.model, torch.device("cpu")), torch.device("cpu"))
    rollouts = [r for g in HFEngine(learner.model, tokenizer).generate(
        load_samples(cfg.data, tokenizer)[:1], SamplingParams(n=4, max_tokens=8, seed=0)) for r in g]  # fmt: skip
    batch = collate(rollouts, torch.linspace(-1, 1, 4), torch.ones(4), tokenizer.pad_token_id)
    learner.step(batch)
    assert not learner.model.training
    assert torch.equal(learner.logprobs(batch), learner.logprobs(batch))


def test_an_adapter_checkpoint_missing_a_tensor_is_refused(tiny_model_dir, tmp_path):
    from peft import get_peft_model_state_dict

    cfg = compose(tiny_overrides(tiny_model_dir, tmp_path, "model.lora.rank=4"))
    model = load_model(cfg.model, torch.device("cpu"))
    tensors = get_peft_model_state_dict(model)
    assert adapter_tensors_by_model_name(model, tensors).keys() == {
        n for n in model.state_dict() if "lora_" in n
    }  # the names match as saved
    tensors.pop(sorted(tensors)[0])
    with pytest.raises(CheckpointError, match="missing"):
        adapter_tensors_by_model_name(model, tensors)
