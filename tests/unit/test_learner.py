"""The learner on the tiny model: log-probs agree with the engine, micro-batching is exact, no KL loads nothing."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from rlvr.batching import BatchTotals, collate, micro_batch_share
from rlvr.config import compose
from rlvr.data import load_samples
from rlvr.errors import ConfigError
from rlvr.faults import Faults
from rlvr.learner import Learner, add_policy_metrics
from rlvr.model import load_model, load_tokenizer
from rlvr.rollout.base import SamplingParams
from rlvr.rollout.hf import HFEngine
from tests.conftest import tiny_overrides


def setup(tiny_model_dir, tmp_path, *extra):
    cfg = compose(tiny_overrides(tiny_model_dir, tmp_path, *extra))
    tokenizer = load_tokenizer(cfg.model)
    model = load_model(cfg.model, torch.device("cpu"))
    learner = Learner(cfg, model, torch.device("cpu"))
    samples = load_samples(cfg.data, tokenizer)[:4]
    return cfg, tokenizer, learner, samples


def batch_from_engine(tokenizer, learner, samples, temperature=1.0):
    engine = HFEngine(learner.model, tokenizer, batch_size=64)
    groups = engine.generate(samples, SamplingParams(n=4, temperature=temperature, max_tokens=16, seed=1))
    rollouts = [r for g in groups for r in g]
    advantages = torch.linspace(-1, 1, len(rollouts))
    return collate(rollouts, advantages, torch.ones(len(rollouts)), tokenizer.pad_token_id), rollouts


def test_learner_logprobs_match_the_engines_sampling_logprobs(tiny_model_dir, tmp_path):
    _, tokenizer, learner, samples = setup(tiny_model_dir, tmp_path, "rollout.temperature=0.7")
    batch, rollouts = batch_from_engine(tokenizer, learner, samples, temperature=0.7)
    logprobs = learner.logprobs(batch)
    mask = batch.completion_mask.bool()
    # left-padded prompts of different lengths: positions must come from the attention mask, as in generate
    assert len({len(r.prompt_ids) for r in rollouts}) > 1
    assert torch.allclose(logprobs[mask], batch.sampling_logprobs[mask], atol=1e-4)


def test_micro_batches_accumulate_to_the_full_batch_gradient(tiny_model_dir, tmp_path):
    grads = {}
    for mb in (64, 3):
        _, tokenizer, learner, samples = setup(tiny_model_dir, tmp_path, f"optim.micro_batch_size={mb}")
        torch.manual_seed(0)
        batch, _ = batch_from_engine(tokenizer, learner, samples)
        learner.cfg.optim.grad_clip = 0.0  # compare the raw accumulated gradients (left in .grad after the step)
        metrics = learner.step(batch)
        grads[mb] = (torch.cat([p.grad.flatten() for p in learner.model.parameters()]), metrics["learn/loss"])
    assert torch.allclose(grads[64][0], grads[3][0], atol=1e-6)
    assert abs(grads[64][1] - grads[3][1]) < 1e-6


def test_micro_batch_share():
    full = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    totals = BatchTotals(tokens=6.0, rows=3)
    assert micro_batch_share("token_mean", full[:1], totals) == 3 / 6
    assert micro_batch_share("seq_mean_token_mean", full[:1], totals) == 1 / 3


def test_policy_metrics_cover_every_iteration_and_micro_batch():
    # two iterations over micro-batches holding 3 and 1 of the batch's 4 loss tokens (and one holding none)
    sums = {}
    on_policy = {"clip_frac": 0.0, "ratio_mean": 1.0, "ratio_min": 1.0, "ratio_max": 1.0}
    for weight in (3 / 4 / 2, 1 / 4 / 2, 0.0):
        add_policy_metrics(sums, on_policy, weight)
    add_policy_metrics(sums, {"clip_frac": 1 / 3, "ratio_mean": 1.2, "ratio_min": 0.7, "ratio_max": 1.5}, 3 / 4 / 2)
    add_policy_metrics(sums, {"clip_frac": 1.0, "ratio_mean": 0.5, "ratio_min": 0.5, "ratio_max": 0.5}, 1 / 4 / 2)
    add_policy_metrics(sums, {"clip_frac": 0.0, "ratio_mean": 1.0, "ratio_min": 9.0, "ratio_max": 9.0}, 0.0)
    # iteration 2 clipped 1 + 1 of 4 tokens; its ratios sum to 3 x 1.2 + 0.5
    assert sums["learn/clip_frac"] == pytest.approx((0 + 2 / 4) / 2)
    assert sums["learn/ratio_mean"] == pytest.approx((1 + (3 * 1.2 + 0.5) / 4) / 2)
    assert sums["learn/ratio_min"] == 0.5 and sums["learn/ratio_max"] == 1.5  # the empty micro-batch has none


def test_no_kl_loads_no_reference_model(tiny_model_dir, tmp_path, monkeypatch):
    import rlvr.model as learner_module

    loads = []
    real = learner_module.AutoModelForCausalLM.from_pretrained
    monkeypatch.setattr(
        learner_module.AutoModelForCausalLM,
        "from_pretrained",
        lambda *a, **k: loads.append(a) or real(*a, **k),
    )
    _, _, learner, _ = setup(tiny_model_dir, tmp_path, "algo.kl_beta=0.0")
    assert learner.ref_model is None and len(loads) == 1
    _, _, learner, _ = setup(tiny_model_dir, tmp_path, "algo.kl_beta=0.05")
    assert learner.ref_model is not None and len(loads) == 3
    assert not any(p.requires_grad for p in learner.ref_model.parameters())


def test_kl_run_reports_kl(tiny_model_dir, tmp_path):
    _, tokenizer, learner, samples = setup(tiny_model_dir, tmp_path, "algo.kl_beta=0.05")
    batch, _ = batch_from_engine(tokenizer, learner, samples)
    first = learner.step(batch)
    second = learner.step(batch)  # the policy moved: KL to the frozen reference is now positive
    assert first["learn/kl"] == 0.0 or abs(first["learn/kl"]) < 1e-6
    assert second["learn/kl"] > 0.0


def test_nonfinite_gradients_never_reach_the_weights(tiny_model_dir, tmp_path):
    _, tokenizer, learner, samples = setup(tiny_model_dir, tmp_path)
    batch, _ = batch_from_engine(tokenizer, learner, samples)
    batch.advantages[0] = float("nan")
    before = [p.detach().clone() for p in learner.model.parameters()]
    metrics = learner.step(batch)
    assert metrics["learn/nonfinite_grads"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(before, learner.model.parameters(), strict=True))


def test_grad_scale_fault_scales_the_gradient_of_its_step_once(tiny_model_dir, tmp_path):
    _, tokenizer, learner, samples = setup(tiny_model_dir, tmp_path, "optim.grad_clip=0")
    batch, _ = batch_from_engine(tokenizer, learner, samples)
    clean_metrics = [learner.step(batch) for _ in range(2)]  # steps 1 and 2 of a run
    extra = ("optim.grad_clip=0", "+fault.grad_scale_at_step=1", "+fault.grad_scale_factor=10")
    _, _, learner, _ = setup(tiny_model_dir, tmp_path, *extra)
    faulty_metrics = [learner.step(batch) for _ in range(2)]
    assert faulty_metrics[0]["learn/grad_norm"] == pytest.approx(10 * clean_metrics[0]["learn/grad_norm"], rel=1e-4)
    assert faulty_metrics[0]["learn/loss"] == pytest.approx(clean_metrics[0]["learn/loss"], abs=1e-6)
    # AdamW's step does not depend on the gradient's scale, so step 2 starts from the same weights: and its
    # gradient is not scaled (the fault fires once)
    assert faulty_metrics[1]["learn/grad_norm"] == pytest.approx(clean_metrics[1]["learn/grad_norm"], rel=1e-3)


def test_logit_scale_fault_acts_on_the_first_pass_through_its_window():
    faults = Faults.from_config({"logit_scale_at_step": 3, "logit_scale_steps": 2, "logit_scale_factor": 0.5})
    # each step asks many times (every forward); a rollback from step 4 to step 2 replays 3 and 4 clean
    assert [faults.logit_scale(s) for s in (1, 2, 3, 3, 4, 4, 2, 3, 4, 5)] == [1, 1, 0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1]
    faults = Faults.from_config({"logit_scale_at_step": 3, "logit_scale_steps": 2})
    assert [faults.logit_scale(s) for s in (3, 4, 3, 4)] == [0.05, 0.05, 1, 1]  # back into the window: clean
    faults = Faults.from_config({"logit_scale_at_step": 3, "logit_scale_steps": 2})
    assert [faults.logit_scale(s) for s in (3, 4, 5, 3)] == [0.05, 0.05, 1, 1]  # left the window: spent
    with pytest.raises(ConfigError, match="logit_scale"):
        Faults.from_config({"logit_scale_at_step": 3, "logit_scale_steps": 0})


def test_logit_scale_fault_scales_every_forward_of_the_policy(tiny_model_dir, tmp_path):
    _, tokenizer, learner, samples = setup(
        tiny_model_dir, tmp_path, "+fault.logit_scale_at_step=2", "+fault.logit_scale_factor=0.1"
    )
    batch, rollouts = batch_from_engine(tokenizer, learner, samples)  # step 1: clean
    reference = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    r = rollouts[0]
    ids = torch.tensor([r.prompt_ids + r.completion_ids])
    with torch.no_grad():
        logits = reference(ids).logits[0, len(r.prompt_ids) - 1 : -1]
    expected = torch.log_softmax(logits, -1).gather(-1, torch.tensor(r.completion_ids)[:, None]).squeeze(1)
    assert torch.allclose(torch.tensor(r.logprobs), expected, atol=1e-5)
    learner.version = 1  # step 2 in progress: sampling and learning see logits x 0.1
    scaled = learner.logprobs(batch)
    expected = torch.log_softmax(0.1 * logits, -1).gather(-1, torch.tensor(r.completion_ids)[:, None]).squeeze(1)
    assert torch.allclose(scaled[0, : len(r.completion_ids)], expected, atol=1e-5)


MEASURE = """
import sys, torch
from rlvr.config import compose
from rlvr.data import load_samples
from rlvr.errors import ConfigError
from rlvr.faults import Faults
from rlvr.batching import collate
from rlvr.learner import Learner
from rlvr.model import load_model, load_tokenizer
from rlvr.rollout.base import SamplingParams
from rlvr.rollout.hf import HFEngine
cfg = compose(sys.argv[1:])
tokenizer = load_tokenizer(cfg.model)
learner = Learner(cfg, load_model(cfg.model, torch.device('cpu')), torch.device('cpu'))
samples = load_samples(cfg.data, tokenizer)[:2]
groups = HFEngine(learner.model, tokenizer).generate(samples, SamplingParams(n=2, max_tokens=4))
rollouts = [r for g in groups for r in g]
learner.step(collate(rollouts, torch.tensor([1.0, -1.0, 1.0, -1.0]), torch.ones(4), tokenizer.pad_token_id))
print(int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]) / 1024)
"""


def test_no_kl_costs_no_reference_model_memory(tiny_model_dir, tmp_path):
    import subprocess
    import sys

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlvr.tiny.pretrain import TinyBaseSpec, model_config

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    # ~390 MB in fp32: resident memory varies by tens of MB between identical runs (allocator caching),
    # so the model must be large next to that for the difference to measure the reference model alone
    spec = TinyBaseSpec(hidden_size=1024, intermediate_size=4096, num_layers=6)
    big = AutoModelForCausalLM.from_config(model_config(spec, len(tokenizer), tokenizer.eos_token_id))
    model_mb = sum(p.numel() for p in big.parameters()) * 4 / 2**20
    big.save_pretrained(tmp_path / "model")
    # resident memory after one training step (which touches every weight it uses), KL off vs on
    rss = {}
    for beta in ("0.0", "0.05"):
        overrides = tiny_overrides(tmp_path / "model", tmp_path / "run", f"algo.kl_beta={beta}")
        overrides += [f"model.tokenizer={tiny_model_dir}", f"data.path={tiny_model_dir / 'train.jsonl'}"]
        out = subprocess.run([sys.executable, "-c", MEASURE, *overrides], capture_output=True, text=True, check=True)
        rss[beta] = float(out.stdout.strip().splitlines()[-1])
    assert 0.8 * model_mb < rss["0.05"] - rss["0.0"] < 1.5 * model_mb, (rss, model_mb)


class PaddedRanks:
    """A one-rank group whose busiest peer ran two more micro-batches: the learner pads with zero-weighted ones."""

    rank, world_size = 0, 1

    def max_count(self, count: int) -> int:
        return count + 2

    def combine(self, sums, extremes):
        return {**sums, **{name: value for name, (_, value) in extremes.items()}}


def test_update_kl_watches_real_rows_not_a_ranks_padding(tiny_model_dir, tmp_path):
    """`learn/update_kl` of a rank that pads its micro-batches is the one an unpadded learner reports on the same
    rows: the padding rows (a copy of a real row with no loss) are never watched."""
    _, tokenizer, plain, samples = setup(tiny_model_dir, tmp_path / "plain")
    _, _, padded, _ = setup(tiny_model_dir, tmp_path / "padded")
    padded.ranks = PaddedRanks()
    batch, _ = batch_from_engine(tokenizer, plain, samples[:1])
    batch = batch.select(slice(0, 2))  # fewer rows than update KL watches (8): padding would be taken next
    for learner in (plain, padded):
        learner.watch_update_kl = True
        for group in learner.optimizer.param_groups:
            group["lr"] = 1e-2  # a visible move
    expected = plain.step(batch)["learn/update_kl"]
    got = padded.step(batch)["learn/update_kl"]
    assert expected > 0 and got == pytest.approx(expected, rel=1e-5)
