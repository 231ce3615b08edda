"""Each trick switch changes the update exactly as its formula says, and takes effect in a real short run.

The first part sends a fixed, hand-made batch (known token ids, advantages or rewards, sampling log-probs)
through the real `Learner`, or for the reward-side switches through `Trainer.step` with a scripted engine and
a stated reward, and compares the learner's gradient (left in `.grad` with `grad_clip=0`), loss and metrics
with an independent reference: a plain forward of the same model, one sequence at a time with no padding,
the switch's formula written out below, and autograd. Every comparison also checks that the reference with
the switch off or flipped is far from what the learner did, so the test cannot pass without the switch.

The second part flips switches in real (short) runs on the tiny model and checks the metrics.
"""

import statistics
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rewards.pool import RewardPool, specs_from_config
from rlvr.batching import collate
from rlvr.config import compose
from rlvr.data import PromptSampler
from rlvr.learner import Learner
from rlvr.loop import Trainer
from rlvr.model import load_model
from rlvr.rollout.base import InProcessEngine
from rlvr.run import train
from rlvr.tracking import Tracker, read_metrics
from rlvr.types import Rollout, Sample
from tests.conftest import ROOT, tiny_overrides

TEMPERATURE = 0.8  # the learner scores log_softmax(logits / T); the reference does the same by hand
LR = 1e-4  # one AdamW step moves these token ratios by 0.5-1.5x: inside and outside the clip range
BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8  # torch.optim.AdamW's default
# (prompt, completion) pairs of different lengths, so padding, per-sequence sums and token means all differ
TEXTS = [
    ("Question: What is 3 + 4?\nAnswer:", " 3 + 4 = 7. The answer is \\boxed{7}."),
    ("Question: Ivo has 8 bags with 2 stamps in each bag. How many stamps?\nAnswer:", " 8 x 2 = 16"),
    ("Q: 5 + 5?\nA:", " 10"),
    ("Question: A box holds 20 cards. How many?\nAnswer:", " The box holds 20 cards, so \\boxed{20}"),
]
ADVANTAGES = [1.0, -1.0, 0.5, -0.5]
CRAFTED = f"{ROOT}/tests/helpers/crafted_rewards.py"


# ---- the hand-made batch and the independent reference --------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text)["input_ids"]


def rollout(tokenizer, sample: Sample, prompt: str, completion_ids: list[int], finish: str, text: str = ""):
    return Rollout(sample, ids(tokenizer, prompt), completion_ids, text, [0.0] * len(completion_ids), finish)


@pytest.fixture(scope="module")
def rollouts(tokenizer) -> list[Rollout]:
    """The four TEXTS; the first and third end at EOS, the others were cut off."""
    eos = tokenizer.eos_token_id
    sample = Sample(id="s", prompt="")
    return [
        rollout(tokenizer, sample, prompt, ids(tokenizer, completion) + ([eos] if i % 2 == 0 else []), "stop")
        for i, (prompt, completion) in enumerate(TEXTS)
    ]


def learner_for(model_dir: Path, run_dir: Path, *overrides: str) -> Learner:
    """The real learner on the test model, with settings the reference can follow: no grad clipping (the raw
    gradient stays in .grad), constant learning rate, weight decay 0, two micro-batches of two sequences."""
    cfg = compose(
        tiny_overrides(model_dir, run_dir, f"rollout.temperature={TEMPERATURE}", f"optim.lr={LR}",
                       "optim.grad_clip=0", "optim.micro_batch_size=2", "optim.weight_decay=0", *overrides)
    )  # fmt: skip
    return Learner(cfg, load_model(cfg.model, torch.device("cpu")), torch.device("cpu"))


def batch(rollouts: list[Rollout], advantages: list[float], pad_id: int):
    return collate(rollouts, torch.tensor(advantages), torch.ones(len(rollouts)), pad_id)


def reference_model(model_dir: Path) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)


def sequence_logprobs(model: torch.nn.Module, rollouts: list[Rollout]) -> list[torch.Tensor]:
    """Each rollout alone (a batch of one, no padding): log_softmax(logits / T) at its completion tokens."""
    out = []
    for r in rollouts:
        logits = model(torch.tensor([r.prompt_ids + r.completion_ids])).logits[0, len(r.prompt_ids) - 1 : -1]
        logp = torch.log_softmax(logits / TEMPERATURE, dim=-1)
        out.append(logp.gather(-1, torch.tensor(r.completion_ids)[:, None])[:, 0])
    return out


def on_policy(advantage: float, logprobs: torch.Tensor) -> torch.Tensor:
    """-A * pi / pi_old with pi_old = pi: the value -A per token, the gradient -A grad log pi."""
    return -advantage * torch.exp(logprobs - logprobs.detach())


def token_mean(per_token: list[torch.Tensor]) -> torch.Tensor:
    return sum(x.sum() for x in per_token) / sum(x.numel() for x in per_token)


def seq_mean_token_mean(per_token: list[torch.Tensor]) -> torch.Tensor:
    return sum(x.mean() for x in per_token) / len(per_token)


def seq_mean_token_sum(per_token: list[torch.Tensor]) -> torch.Tensor:
    return sum(x.sum() for x in per_token) / len(per_token)


def gradient(model: torch.nn.Module, loss: torch.Tensor) -> torch.Tensor:
    params = list(model.parameters())
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for p, g in zip(params, grads, strict=True)])


def learner_gradient(learner: Learner) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in learner.model.parameters()])


def flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return float((actual - expected).norm() / expected.norm())


def assert_matches(actual: torch.Tensor, expected: torch.Tensor, **others: torch.Tensor) -> None:
    """`actual` is the reference `expected`, and each of `others` (the switch off or flipped) is far from it."""
    assert relative_error(actual, expected) < 1e-4
    for name, other in others.items():
        assert relative_error(other, expected) > 1e-2, f"the reference cannot tell the switch from {name}"
        assert relative_error(actual, other) > 1e-2, f"the learner did {name}"


# ---- learner-side switches -------------------------------------------------------------------------------
def test_seq_mean_token_sum_sums_each_sequence_then_averages(tiny_model_dir, tmp_path, tokenizer, rollouts):
    learner = learner_for(tiny_model_dir, tmp_path, "algo.loss_agg=seq_mean_token_sum")
    metrics = learner.step(batch(rollouts, ADVANTAGES, tokenizer.pad_token_id))
    ref = reference_model(tiny_model_dir)
    per_token = [on_policy(a, lp) for a, lp in zip(ADVANTAGES, sequence_logprobs(ref, rollouts), strict=True)]
    assert_matches(
        learner_gradient(learner),
        gradient(ref, seq_mean_token_sum(per_token)),
        token_mean=gradient(ref, token_mean(per_token)),
        seq_mean_token_mean=gradient(ref, seq_mean_token_mean(per_token)),
    )
    # on policy every token's loss is -A_i, so a sequence sums to -A_i n_i
    lengths = [len(r.completion_ids) for r in rollouts]
    expected_loss = -sum(a * n for a, n in zip(ADVANTAGES, lengths, strict=True)) / len(rollouts)
    assert metrics["learn/loss"] == pytest.approx(expected_loss, rel=1e-5)


def test_tis_cap_weights_each_token_by_the_capped_importance_ratio(tiny_model_dir, tmp_path, tokenizer, rollouts):
    cap = 2.0
    ref = reference_model(tiny_model_dir)
    logprobs = sequence_logprobs(ref, rollouts)
    # the engine's log-probs sit below or above the learner's by these amounts: weights e^1 and e^2 exceed the cap
    shifts = [torch.tensor([1.0, -0.5, 0.3, 2.0] * 4)[: len(lp)] for lp in logprobs]
    engine = [
        Rollout(r.sample, r.prompt_ids, r.completion_ids, r.completion, (lp - s).tolist(), r.finish_reason)
        for r, lp, s in zip(rollouts, logprobs, shifts, strict=True)
    ]
    learner = learner_for(tiny_model_dir, tmp_path, f"algo.tis_cap={cap}")
    metrics = learner.step(batch(engine, ADVANTAGES, tokenizer.pad_token_id))

    def weighted(weights: list[torch.Tensor]) -> torch.Tensor:
        per_token = [w * on_policy(a, lp) for w, a, lp in zip(weights, ADVANTAGES, logprobs, strict=True)]
        return gradient(ref, token_mean(per_token))

    assert_matches(
        learner_gradient(learner),
        weighted([torch.exp(s).clamp(max=cap) for s in shifts]),
        uncapped=weighted([torch.exp(s) for s in shifts]),
        no_tis=weighted([torch.ones_like(s) for s in shifts]),
    )
    shift = torch.cat(shifts)
    assert metrics["rollout/logprob_abs_diff"] == pytest.approx(float(shift.abs().mean()), rel=1e-4)


def perturb(model: torch.nn.Module, seed: int = 0, scale: float = 0.02) -> None:
    """Move every weight by fixed noise, so the policy differs from the model on disk (the reference)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=generator))


def k1(logprobs: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return logprobs - ref


def k3(logprobs: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return torch.exp(ref - logprobs) - (ref - logprobs) - 1


@pytest.mark.parametrize("estimator", ["k3", "k1"])
def test_kl_beta_adds_the_kl_to_the_reference_model(tiny_model_dir, tmp_path, tokenizer, rollouts, estimator):
    beta = 0.5
    learner = learner_for(tiny_model_dir, tmp_path, f"algo.kl_beta={beta}", f"algo.kl_estimator={estimator}")
    perturb(learner.model)  # the reference stays the model on disk
    metrics = learner.step(batch(rollouts, ADVANTAGES, tokenizer.pad_token_id))
    policy = reference_model(tiny_model_dir)
    perturb(policy)
    with torch.no_grad():
        ref_logprobs = sequence_logprobs(reference_model(tiny_model_dir), rollouts)
    logprobs = sequence_logprobs(policy, rollouts)
    chosen, other = (k3, k1) if estimator == "k3" else (k1, k3)

    def with_kl(kl, b: float) -> torch.Tensor:
        per_token = [
            on_policy(a, lp) + b * kl(lp, ref) for a, lp, ref in zip(ADVANTAGES, logprobs, ref_logprobs, strict=True)
        ]
        return gradient(policy, token_mean(per_token))

    assert_matches(
        learner_gradient(learner),
        with_kl(chosen, beta),
        no_kl=with_kl(chosen, 0.0),
        other_estimator=with_kl(other, beta),
    )
    kl = token_mean([chosen(lp, ref) for lp, ref in zip(logprobs, ref_logprobs, strict=True)]).detach()
    assert abs(float(kl)) > 1e-2 and metrics["learn/kl"] == pytest.approx(float(kl), rel=1e-4)


def adam_moments(g1: torch.Tensor, g2: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """AdamW's moments after one or two gradients, from zero: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2."""
    b1, b2 = BETAS
    m, v = (1 - b1) * g1, (1 - b2) * g1**2
    if g2 is None:
        return m, v, 1
    return b1 * m + (1 - b1) * g2, b2 * v + (1 - b2) * g2**2, 2


def adam_update(m: torch.Tensor, v: torch.Tensor, t: int) -> torch.Tensor:
    """The step AdamW takes (weight decay 0): lr * m_hat / (sqrt(v_hat) + eps), bias-corrected at step t."""
    b1, b2 = BETAS
    return LR * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + ADAM_EPS)


class SecondIteration:
    """The reference for `algo.num_iterations=2`: iteration 1 is the on-policy gradient g1 at theta0 and one
    AdamW step to theta1; iteration 2 scores the batch at theta1 against theta0's log-probs (the ratio)."""

    def __init__(self, model_dir: Path, rollouts: list[Rollout]) -> None:
        self.model = reference_model(model_dir)
        self.theta0 = flat(self.model)
        self.old = [lp.detach() for lp in sequence_logprobs(self.model, rollouts)]
        per_token = [
            on_policy(a, lp) for a, lp in zip(ADVANTAGES, sequence_logprobs(self.model, rollouts), strict=True)
        ]
        self.g1 = gradient(self.model, token_mean(per_token))
        self.theta1 = self.theta0 - adam_update(*adam_moments(self.g1))
        torch.nn.utils.vector_to_parameters(self.theta1, self.model.parameters())
        self.logprobs = sequence_logprobs(self.model, rollouts)
        self.ratios = [torch.exp(lp - old).detach() for lp, old in zip(self.logprobs, self.old, strict=True)]

    def per_token(self, clip_low: float, clip_high: float) -> list[torch.Tensor]:
        """max(-A r, -A clip(r, 1 - clip_low, 1 + clip_high)) with r = pi_theta1 / pi_theta0."""
        out = []
        for a, lp, old in zip(ADVANTAGES, self.logprobs, self.old, strict=True):
            ratio = torch.exp(lp - old)
            out.append(torch.maximum(-a * ratio, -a * ratio.clamp(1 - clip_low, 1 + clip_high)))
        return out

    def gradient(self, clip_low: float, clip_high: float) -> torch.Tensor:
        return gradient(self.model, token_mean(self.per_token(clip_low, clip_high)))

    def on_policy_gradient(self) -> torch.Tensor:
        """The bug to tell apart: old log-probs recomputed at theta1, so the ratio is 1 again."""
        return gradient(
            self.model, token_mean([on_policy(a, lp) for a, lp in zip(ADVANTAGES, self.logprobs, strict=True)])
        )


@pytest.fixture(scope="module")
def second_iteration(tiny_model_dir, rollouts) -> SecondIteration:
    return SecondIteration(tiny_model_dir, rollouts)


def test_num_iterations_takes_a_second_step_with_the_ratio_to_the_sampling_policy(
    tiny_model_dir, tmp_path, tokenizer, rollouts, second_iteration
):
    ref = second_iteration
    learner = learner_for(tiny_model_dir, tmp_path, "algo.num_iterations=2")
    learner.step(batch(rollouts, ADVANTAGES, tokenizer.pad_token_id))
    g2 = ref.gradient(0.2, 0.2)
    assert_matches(learner_gradient(learner), g2, on_policy_again=ref.on_policy_gradient())
    # the weights moved by two AdamW steps: theta2 = theta1 - update(m2, v2), not theta1 alone
    moved = flat(learner.model) - ref.theta0
    theta2 = ref.theta1 - adam_update(*adam_moments(ref.g1, g2))
    assert_matches(moved, theta2 - ref.theta0, one_iteration=ref.theta1 - ref.theta0)


def test_clip_low_and_clip_high_bound_the_ratio_on_their_own_side(
    tiny_model_dir, tmp_path, tokenizer, rollouts, second_iteration
):
    ref = second_iteration
    ratios = torch.cat(ref.ratios)

    def clear_of_ratios(low: float, high: float) -> bool:
        """No ratio within float noise of a bound, so the reference and the learner clip the same tokens."""
        return all(float((ratios - b).abs().min()) > 1e-3 for b in (1 - low, 1 + high, 1 - high, 1 + low))

    # asymmetric bounds near 0.1 and 0.3, moved by a hundredth where a ratio of this model sits on one
    clip_low, clip_high = next(
        (low, high) for low in (0.1, 0.11, 0.12, 0.13) for high in (0.3, 0.31, 0.32) if clear_of_ratios(low, high)
    )
    learner = learner_for(
        tiny_model_dir, tmp_path, "algo.num_iterations=2", f"algo.clip_low={clip_low}", f"algo.clip_high={clip_high}"
    )
    metrics = learner.step(batch(rollouts, ADVANTAGES, tokenizer.pad_token_id))
    assert_matches(
        learner_gradient(learner),
        ref.gradient(clip_low, clip_high),
        swapped=ref.gradient(clip_high, clip_low),
        symmetric_low=ref.gradient(clip_low, clip_low),
        symmetric_high=ref.gradient(clip_high, clip_high),
        unclipped=ref.gradient(float("inf"), float("inf")),
    )
    # the metrics average both iterations: iteration 1 has ratio 1 everywhere and clips nothing
    advantages = torch.cat([torch.full((len(r),), a) for r, a in zip(ref.ratios, ADVANTAGES, strict=True)])
    clipped = ((advantages > 0) & (ratios > 1 + clip_high)) | ((advantages < 0) & (ratios < 1 - clip_low))
    assert 0 < int(clipped.sum()) < len(ratios)
    assert metrics["learn/clip_frac"] == pytest.approx(float(clipped.float().mean()) / 2, abs=1e-6)
    assert metrics["learn/ratio_mean"] == pytest.approx((1 + float(ratios.mean())) / 2, rel=1e-4)
    assert metrics["learn/ratio_max"] == pytest.approx(float(ratios.max()), rel=1e-4)
    assert metrics["learn/ratio_min"] == pytest.approx(float(ratios.min()), rel=1e-4)


# ---- reward-side switches, through Trainer.step with a scripted engine ----------------------------------
class ScriptedEngine(InProcessEngine):
    """A RolloutEngine that returns given rollouts: `groups[sample.id]` is that prompt's group."""

    weight_version = 0

    def __init__(self, groups: dict[str, list[Rollout]]) -> None:
        self.groups = groups

    def generate(self, samples, params):
        assert all(len(self.groups[s.id]) == params.n for s in samples)
        return [self.groups[s.id] for s in samples]

    def update_weights(self, named_tensors, version):
        self.weight_version = version
        return {}

    def close(self) -> None:
        pass


def scripted_group(tokenizer, prompt_index: int, rewards: list[float], lengths: list[int], max_tokens: int):
    """One prompt's group: rollout j is the first lengths[j] tokens of a TEXTS completion (ending at EOS unless
    it filled max_tokens) and states its own reward in its text."""
    sample = Sample(id=f"p{prompt_index}", prompt=TEXTS[prompt_index][0])
    source = ids(tokenizer, TEXTS[0][1]) + ids(tokenizer, TEXTS[3][1])
    group = []
    for j, (reward, n) in enumerate(zip(rewards, lengths, strict=True)):
        tokens = source[j : j + n]
        finish = "length" if n == max_tokens else "stop"
        if finish == "stop":
            tokens = [*tokens[:-1], tokenizer.eos_token_id]
        group.append(rollout(tokenizer, sample, sample.prompt, tokens, finish, text=f"reward={reward}"))
    return group


def trainer_step(model_dir: Path, run_dir: Path, pad_id: int, groups: list[list[Rollout]], *overrides: str):
    """One `Trainer.step` on the scripted groups; returns the learner (its .grad) and the step's metrics."""
    extra = [f"prompts_per_step={len(groups)}", "reward=[]", f"reward.custom={CRAFTED}:stated_reward", *overrides]
    learner = learner_for(model_dir, run_dir, *extra)
    cfg = learner.cfg
    samples = [g[0].sample for g in groups]
    engine = ScriptedEngine({s.id: g for s, g in zip(samples, groups, strict=True)})
    tracker = Tracker(run_dir, cfg.tracking, 1)
    try:
        with RewardPool(specs_from_config(cfg.reward), 1) as pool:
            sampler = PromptSampler(samples, shuffle=False, seed=0)
            trainer = Trainer(cfg, learner, engine, pool, sampler, tracker, pad_id)
            metrics = trainer.step(1)
    finally:
        tracker.close()
    return learner, metrics


def centred(rewards: list[float], group_size: int, scale) -> list[float]:
    """(r - mean of its group) / (scale(group) + eps), group by group."""
    out = []
    for g in range(0, len(rewards), group_size):
        group = rewards[g : g + group_size]
        out += [(r - statistics.mean(group)) / (scale(group) + 1e-6) for r in group]
    return out


def policy_gradient(model_dir: Path, groups: list[list[Rollout]], advantages: list[float]) -> torch.Tensor:
    """The on-policy token-mean gradient of the flattened groups with the given advantages."""
    model = reference_model(model_dir)
    flat_rollouts = [r for g in groups for r in g]
    logprobs = sequence_logprobs(model, flat_rollouts)
    return gradient(model, token_mean([on_policy(a, lp) for a, lp in zip(advantages, logprobs, strict=True)]))


def test_batch_std_divides_by_the_std_of_the_whole_batch(tiny_model_dir, tmp_path, tokenizer):
    rewards = [1.0, 0.0, 0.0, 0.0, 3.0, 1.0, 2.0, 2.0]  # two groups: stds 0.5 and 0.82, the batch's 1.13
    groups = [scripted_group(tokenizer, i, rewards[4 * i : 4 * i + 4], [3, 5, 4, 6], max_tokens=24) for i in (0, 1)]
    pad = tokenizer.pad_token_id
    learner, metrics = trainer_step(tiny_model_dir, tmp_path, pad, groups, "algo.adv_scale=batch_std")
    batch_std = statistics.stdev(rewards)  # Bessel, over all 8 rewards
    advantages = centred(rewards, 4, lambda group: batch_std)
    assert_matches(
        learner_gradient(learner),
        policy_gradient(tiny_model_dir, groups, advantages),
        group_std=policy_gradient(tiny_model_dir, groups, centred(rewards, 4, statistics.stdev)),
    )
    assert metrics["adv/abs_max"] == pytest.approx(max(abs(a) for a in advantages), rel=1e-5)


def test_soft_overlong_penalty_is_added_to_the_reward(tiny_model_dir, tmp_path, tokenizer):
    # max_tokens 6, buffer 4: no penalty up to 2 tokens, then -(n - 2) / 4, down to -1 at 6 tokens
    lengths = [2, 3, 4, 6, 1, 5, 6, 2]
    base = [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0]  # the first group varies only through the penalty
    penalty = [0.0, -0.25, -0.5, -1.0, 0.0, -0.75, -1.0, 0.0]
    groups = [scripted_group(tokenizer, i, base[4 * i : 4 * i + 4], lengths[4 * i : 4 * i + 4], 6) for i in (0, 1)]
    overrides = ("algo.overlong=soft_penalty", "algo.overlong_buffer=4", "rollout.max_tokens=6")
    learner, metrics = trainer_step(tiny_model_dir, tmp_path, tokenizer.pad_token_id, groups, *overrides)
    total = [b + p for b, p in zip(base, penalty, strict=True)]
    assert_matches(
        learner_gradient(learner),
        policy_gradient(tiny_model_dir, groups, centred(total, 4, statistics.stdev)),
        no_penalty=policy_gradient(tiny_model_dir, groups, centred(base, 4, statistics.stdev)),
    )
    assert metrics["reward/overlong_penalty/mean"] == pytest.approx(statistics.mean(penalty))
    assert metrics["rollout/truncated_frac"] == 2 / 8  # soft_penalty keeps the truncated rollouts in the loss


# ---- real short runs ----------------------------------------------------------------------------------------
STARTS_WITH_DIGIT = [f"reward.custom={ROOT}/tests/helpers/rewards.py:starts_with_digit", "reward=[]"]


def run(model_dir: Path, run_dir: Path, *extra: str) -> list[dict]:
    overrides = tiny_overrides(model_dir, run_dir, "eval.before_training=false", "eval.after_training=false", *extra)
    train(compose(overrides))
    return [r for r in read_metrics(run_dir / "metrics.jsonl") if "event" not in r]


@pytest.fixture(scope="module")
def token_mean_run(tiny_model_dir, tmp_path_factory):
    return run(tiny_model_dir, tmp_path_factory.mktemp("token_mean"), "algo.loss_agg=token_mean", "steps=1")


def test_seq_mean_token_mean_loss_is_zero_on_policy(tiny_model_dir, tmp_path):
    # on-policy the per-token loss is -A, a sequence's token mean is -A_i, and advantages sum to 0 per group
    metrics = run(tiny_model_dir, tmp_path, "algo.loss_agg=seq_mean_token_mean", "steps=1")
    assert abs(metrics[0]["learn/loss"]) < 1e-6


def test_dr_grpo_normaliser_rescales_the_token_mean_loss(tiny_model_dir, tmp_path, token_mean_run):
    # same seed, same first batch: sum(-A n_i) / tokens  vs  sum(-A n_i) / (B * max_tokens)
    metrics = run(tiny_model_dir, tmp_path, "algo.loss_agg=seq_mean_token_sum_norm", "steps=1")
    first, ref = metrics[0], token_mean_run[0]
    assert first["reward/mean"] == ref["reward/mean"]
    expected = ref["learn/loss"] * ref["learn/tokens"] / (16 * 24)  # 4 prompts x 4 rollouts, max_tokens 24
    assert first["learn/loss"] == pytest.approx(expected, rel=1e-4, abs=1e-7)


def test_no_std_normalisation_keeps_binary_advantages_within_one(tiny_model_dir, tmp_path):
    metrics = run(tiny_model_dir, tmp_path, "algo.adv_scale=none", *STARTS_WITH_DIGIT, "steps=2")
    assert all(m["adv/abs_max"] <= 1.0 for m in metrics)
    assert any(m["adv/abs_max"] > 0 for m in metrics)


def test_group_std_scales_advantages_beyond_one(tiny_model_dir, tmp_path):
    metrics = run(tiny_model_dir, tmp_path, "algo.adv_scale=group_std", *STARTS_WITH_DIGIT, "steps=2")
    # a group of 4 with one success has advantages [1.5, -.5, -.5, -.5]; with two, +-0.866
    assert any(m["adv/abs_max"] > 0.85 for m in metrics)


def test_gdpo_with_format_and_accuracy_rewards(tiny_model_dir, tmp_path):
    # the custom reward makes sure some groups vary, whatever the tiny model's accuracy
    metrics = run(tiny_model_dir, tmp_path, "algo.multi_reward=gdpo", "reward=[math,format]", STARTS_WITH_DIGIT[0])
    assert any(m["groups/constant_frac"] < 1.0 for m in metrics)
    for m in metrics:
        assert "reward/math/mean" in m and "reward/format/mean" in m and "reward/custom/mean" in m
        if m["groups/constant_frac"] < 1.0:  # GDPO ends with a batch normalisation: std 1
            assert m["adv/std"] == pytest.approx(1.0, abs=1e-3)


def test_zero_variance_skip_counts_skipped_groups(tiny_model_dir, tmp_path):
    metrics = run(tiny_model_dir, tmp_path, "algo.zero_variance=skip", "steps=2")
    assert sum(m["groups/skipped"] for m in metrics) > 0
    for m in metrics:
        assert m["groups/trained"] + m["groups/skipped"] == 4


def test_zero_variance_resample_draws_more_prompts(tiny_model_dir, tmp_path):
    metrics = run(tiny_model_dir, tmp_path, "algo.zero_variance=resample", "algo.max_resample_rounds=2", "steps=2")
    assert any(m["groups/rounds"] > 1 for m in metrics)
    assert all(m["groups/trained"] <= 4 for m in metrics)


def test_overlong_mask_removes_truncated_rollouts_from_the_loss(tiny_model_dir, tmp_path):
    # 2-token cap: most rollouts are cut off (2 tokens each, now without loss); the rest stopped at EOS
    extra = ("rollout.max_tokens=2", *STARTS_WITH_DIGIT, "steps=1")
    masked = run(tiny_model_dir, tmp_path / "mask", "algo.overlong=mask", *extra)[0]
    kept = run(tiny_model_dir, tmp_path / "none", "algo.overlong=none", *extra)[0]
    truncated = round(masked["rollout/truncated_frac"] * 16)
    assert truncated > 0
    assert kept["learn/tokens"] == masked["rollout/tokens"]
    assert masked["learn/tokens"] == masked["rollout/tokens"] - 2 * truncated
