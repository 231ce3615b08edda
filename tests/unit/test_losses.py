"""policy_loss, its aggregations, KL estimators and TIS against hand-computed values."""

import math

import pytest
import torch

from rlvr.algo import LOSS_AGGS, POLICY_LOSSES, LossSettings, aggregate, kl_penalty, policy_loss, tis_weights

MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
ADV = torch.tensor([1.0, -2.0])
LOGP = torch.log(torch.tensor([[0.5, 0.4, 0.3], [0.2, 0.9, 0.9]]))


def loss_for(loss_agg: str, **kw) -> float:
    # ratio 1 everywhere, so every per-token loss is -A: row 1 [-1, -1, -1], row 2 [2] (then padding)
    loss, _ = policy_loss(LOGP, LOGP, ADV, MASK, LossSettings(loss_agg=loss_agg, **kw))
    return float(loss)


def test_token_mean():
    assert loss_for("token_mean") == pytest.approx((-3 + 2) / 4)


def test_seq_mean_token_mean():
    assert loss_for("seq_mean_token_mean") == pytest.approx((-3 / 3 + 2 / 1) / 2)


def test_seq_mean_token_sum_norm_divides_by_max_tokens():
    assert loss_for("seq_mean_token_sum_norm", max_tokens=4) == pytest.approx((-3 / 4 + 2 / 4) / 2)
    with pytest.raises(ValueError, match="max_tokens"):
        loss_for("seq_mean_token_sum_norm")


def test_seq_mean_token_sum_is_the_books_summed_logprob():
    assert loss_for("seq_mean_token_sum") == pytest.approx((-3 + 2) / 2)


def test_on_policy_gradient_is_minus_advantage_over_tokens():
    logp = LOGP.clone().requires_grad_(True)
    loss, metrics = policy_loss(logp, logp.detach(), ADV, MASK, LossSettings(loss_agg="token_mean"))
    loss.backward()
    expected = torch.tensor([[-0.25, -0.25, -0.25], [0.5, 0.0, 0.0]])  # -A / 4 tokens, 0 on padding
    assert torch.allclose(logp.grad, expected)
    assert metrics["clip_frac"] == 0.0 and metrics["ratio_mean"] == pytest.approx(1.0)


def one_token(ratio: float, adv: float, **kw):
    logp = torch.tensor([[math.log(ratio)]])
    return policy_loss(logp, torch.zeros(1, 1), torch.tensor([adv]), torch.ones(1, 1), LossSettings(**kw))


def test_ratio_is_clipped_above_for_positive_advantage():
    loss, m = one_token(1.5, 1.0, clip_high=0.2)
    assert float(loss) == pytest.approx(-1.2) and m["clip_frac"] == 1.0


def test_clip_higher_lets_the_ratio_rise_further():
    loss, _ = one_token(1.5, 1.0, clip_high=0.28)
    assert float(loss) == pytest.approx(-1.28)


def test_ratio_is_clipped_below_for_negative_advantage():
    loss, m = one_token(0.5, -1.0, clip_low=0.2)
    assert float(loss) == pytest.approx(0.8) and m["clip_frac"] == 1.0


def test_pessimistic_bound_keeps_unclipped_when_it_is_larger():
    loss, m = one_token(1.5, -1.0)
    assert float(loss) == pytest.approx(1.5) and m["clip_frac"] == 0.0


def test_kl_estimators():
    logp, ref = torch.log(torch.tensor([0.5])), torch.log(torch.tensor([0.25]))
    assert float(kl_penalty(logp, ref, "k1")) == pytest.approx(math.log(2))
    # k3 = exp(ref - logp) - (ref - logp) - 1 = 0.5 + log 2 - 1
    assert float(kl_penalty(logp, ref, "k3")) == pytest.approx(0.5 + math.log(2) - 1)


def test_kl_term_adds_beta_times_k3():
    logp = torch.log(torch.tensor([[0.5]]))
    ref = torch.log(torch.tensor([[0.25]]))
    settings = LossSettings(kl_beta=0.1)
    loss, m = policy_loss(logp, logp, torch.zeros(1), torch.ones(1, 1), settings, ref_logprobs=ref)
    assert float(loss) == pytest.approx(0.1 * (0.5 + math.log(2) - 1))
    assert m["kl"] == pytest.approx(0.5 + math.log(2) - 1, rel=1e-5)
    with pytest.raises(ValueError, match="ref_logprobs"):
        policy_loss(logp, logp, torch.zeros(1), torch.ones(1, 1), settings)


def test_tis_weights_are_truncated_ratios():
    old = torch.log(torch.tensor([0.5, 0.5, 0.2]))
    engine = torch.log(torch.tensor([0.25, 0.5, 0.4]))
    assert torch.allclose(tis_weights(old, engine, cap=1.5), torch.tensor([1.5, 1.0, 0.5]))


def test_tis_scales_the_per_token_loss():
    # the sampler gave every token twice the learner's probability: weight exp(log p - log 2p) = 0.5
    sampling = LOGP + math.log(2)
    settings = LossSettings(loss_agg="token_mean", tis_cap=2.0)
    loss, m = policy_loss(LOGP, LOGP, ADV, MASK, settings, sampling_logprobs=sampling)
    assert float(loss) == pytest.approx(0.5 * (-3 + 2) / 4) and m["tis_weight_mean"] == pytest.approx(0.5)


def test_decoupled_objective_on_stale_tokens_by_hand():
    # Two tokens sampled by stale weights (behaviour p_b = 0.25), the learner before this update (proximal)
    # gives them 0.5, and after a first update pass the current policy gives 0.65 and 0.55. A = 1, clip 0.2,
    # cap 1.5. Ratios against the proximal policy: 1.3 (clipped at 1.2: no gradient) and 1.1 (unclipped);
    # behaviour weight min(0.5 / 0.25, 1.5) = 1.5 on both. token_mean over 2 tokens:
    #   loss = (-1.2 * 1.5 + -1.1 * 1.5) / 2 = -1.725; d loss / d logp = [0, -1.1 * 1.5 / 2] = [0, -0.825]
    current = torch.log(torch.tensor([[0.65, 0.55]])).requires_grad_(True)
    proximal = torch.log(torch.tensor([[0.5, 0.5]]))
    behaviour = torch.log(torch.tensor([[0.25, 0.25]]))
    settings = LossSettings(loss_agg="token_mean", clip_low=0.2, clip_high=0.2, tis_cap=1.5)
    loss, m = policy_loss(
        current, proximal, torch.tensor([1.0]), torch.ones(1, 2), settings, sampling_logprobs=behaviour
    )
    loss.backward()
    assert float(loss) == pytest.approx(-1.725)
    assert current.grad.squeeze(0).tolist() == pytest.approx([0.0, -0.825])
    assert m["clip_frac"] == pytest.approx(0.5) and m["tis_weight_mean"] == pytest.approx(1.5)
    # the ratio against the behaviour policy instead (2.6 and 2.2) would clip both: no gradient at all
    bypass = current.detach().clone().requires_grad_(True)
    loss, _ = policy_loss(bypass, behaviour, torch.tensor([1.0]), torch.ones(1, 2), LossSettings(loss_agg="token_mean"))
    loss.backward()
    assert bypass.grad.abs().sum() == 0


def test_registries_name_every_option_once():
    assert LOSS_AGGS.names() == ("token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm", "seq_mean_token_sum")
    assert POLICY_LOSSES.names() == ("ppo_clip",)
    with pytest.raises(ValueError, match=r"algo\.loss_agg must be one of token_mean"):
        LOSS_AGGS.check("sum")


def test_aggregate_rejects_unknown_mode():
    with pytest.raises(ValueError, match="loss_agg"):
        aggregate(torch.zeros(1, 1), torch.ones(1, 1), "sum")
