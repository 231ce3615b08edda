"""Chunked token log-probs against the plain computation written out here: values, entropy and gradients."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from rlvr.logprobs import TokenLogprobs, token_logprobs


def reference(model, input_ids, attention_mask, completion_mask, temperature):
    """log_softmax(logits / T) of the completion tokens from one full forward, every logit materialised."""
    width = completion_mask.shape[1]
    positions = (attention_mask.cumsum(1) - 1).clamp(min=0)
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions).logits
    logp = torch.log_softmax(logits[:, -width - 1 : -1].float() / temperature, dim=-1)
    values = logp.gather(-1, input_ids[:, -width:, None]).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(-1)
    return values * completion_mask, entropy * completion_mask


@pytest.fixture(scope="module")
def batch(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    vocab = model.config.vocab_size
    prompts = [[5, 6, 7, 8, 9], [11, 12]]  # different lengths: left padding
    completions = [[20, 21, 22], [23, 24, 25, 26]]
    width_p, width_c = 5, 4
    ids = [
        [0] * (width_p - len(p)) + p + c + [0] * (width_c - len(c)) for p, c in zip(prompts, completions, strict=True)
    ]
    input_ids = torch.tensor(ids) % vocab
    attention = torch.tensor([[0] * (width_p - len(p)) + [1] * (len(p) + len(c)) + [0] * (width_c - len(c))
                              for p, c in zip(prompts, completions, strict=True)])  # fmt: skip
    completion_mask = attention[:, -width_c:].float()
    return model, input_ids, attention, completion_mask


@pytest.mark.parametrize("chunk_elements", [10**9, 1])  # one chunk (softmax kept) and a chunk per row
def test_values_entropy_and_gradients_match_the_full_computation(batch, chunk_elements):
    model, input_ids, attention, completion_mask = batch
    weights = torch.randn(completion_mask.shape)  # an arbitrary loss: sum of w * logp over real tokens
    model.zero_grad()
    expected, expected_entropy = reference(model, input_ids, attention, completion_mask, 0.7)
    (expected * weights).sum().backward()
    expected_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    got, entropy = token_logprobs(model, input_ids, attention, completion_mask, 0.7, chunk_elements=chunk_elements)
    (got * weights).sum().backward()
    assert torch.allclose(got, expected, atol=1e-5) and torch.allclose(entropy, expected_entropy, atol=1e-4)
    for name, param in model.named_parameters():
        assert torch.allclose(param.grad, expected_grads[name], atol=1e-5, rtol=1e-4), name


def test_the_function_by_hand_on_a_two_token_vocabulary():
    # logits [0, ln 3] at T = 1: p = [1/4, 3/4]; log p(token 1) = ln 0.75; d logp1 / d logits = [-1/4, 1/4]
    hidden = torch.tensor([[1.0]], requires_grad=True)
    weight = torch.tensor([[0.0], [torch.log(torch.tensor(3.0))]], requires_grad=True)
    logp, entropy = TokenLogprobs.apply(hidden, weight, None, torch.tensor([1]), 1.0, 1)
    assert logp.item() == pytest.approx(torch.log(torch.tensor(0.75)).item())
    assert entropy.item() == pytest.approx(
        -(0.25 * torch.log(torch.tensor(0.25)) + 0.75 * torch.log(torch.tensor(0.75))).item()
    )
    logp.sum().backward()
    # logits = weight @ hidden: d/d weight_j = (1[j=1] - p_j) * hidden = [-0.25, 0.25]; d/d hidden = sum_j (.)w_j
    assert weight.grad.squeeze(1).tolist() == pytest.approx([-0.25, 0.25])
    assert hidden.grad.item() == pytest.approx(0.25 * torch.log(torch.tensor(3.0)).item())
