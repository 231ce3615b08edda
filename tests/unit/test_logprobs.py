"""Chunked token log-probs against the plain computation written out here: values, entropy and gradients."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from rlvr.logprobs import TokenLogprobs, prompt_groups, token_logprobs


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


@pytest.fixture(scope="module")
def grouped_batch(tiny_model_dir):
    """Three prompts (lengths 4, 2, 3) with 3, 2 and 1 completions of different lengths, rows interleaved:
    the layout of a GRPO batch after micro-batching mixed its groups."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    prompts = {"a": [5, 6, 7, 8], "b": [11, 12], "c": [13, 14, 15]}
    rows = [("a", [20, 21, 22]), ("b", [23]), ("a", [24, 25, 26, 27, 28]), ("c", [29, 30]), ("a", [31]),
            ("b", [32, 33, 34, 35])]  # fmt: skip
    width_p, width_c = 4, 5
    ids, attention = [], []
    for name, completion in rows:
        p = prompts[name]
        ids.append([0] * (width_p - len(p)) + p + completion + [0] * (width_c - len(completion)))
        pad_c = width_c - len(completion)
        attention.append([0] * (width_p - len(p)) + [1] * (len(p) + len(completion)) + [0] * pad_c)
    attention = torch.tensor(attention)
    return model, torch.tensor(ids), attention, attention[:, -width_c:].float()


def test_prompt_groups_by_hand(grouped_batch):
    _, input_ids, attention, _ = grouped_batch
    first, owner = prompt_groups(input_ids[:, :4], attention[:, :4])
    # rows hold prompts a, b, a, c, a, b: three distinct; each row's owner points at a row with its prompt
    assert first.shape[0] == 3
    assert torch.equal(input_ids[first][owner][:, :4], input_ids[:, :4])
    assert owner[0] == owner[2] == owner[4] and owner[1] == owner[5]
    assert len({int(owner[0]), int(owner[1]), int(owner[3])}) == 3


@pytest.mark.parametrize("chunk_elements", [10**9, 1])
def test_rows_sharing_a_prompt_run_it_once_with_the_same_values_and_gradients(grouped_batch, chunk_elements):
    model, input_ids, attention, completion_mask = grouped_batch
    weights = torch.randn(completion_mask.shape)
    model.zero_grad()
    expected, expected_entropy = reference(model, input_ids, attention, completion_mask, 0.7)
    (expected * weights).sum().backward()
    expected_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    batch_rows = []
    hook = model.get_decoder().register_forward_pre_hook(
        lambda module, args, kwargs: batch_rows.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    try:
        got, entropy = token_logprobs(model, input_ids, attention, completion_mask, 0.7, chunk_elements=chunk_elements)
    finally:
        hook.remove()
    (got * weights).sum().backward()
    # the three distinct prompts ran once (3 rows of 4 columns), then the six rows' completions (5 columns)
    assert batch_rows == [(3, 4), (6, 5)]
    assert torch.allclose(got, expected, atol=1e-5) and torch.allclose(entropy, expected_entropy, atol=1e-4)
    for name, param in model.named_parameters():
        assert torch.allclose(param.grad, expected_grads[name], atol=1e-5, rtol=1e-4), name


def test_gradient_checkpointing_runs_rows_whole(grouped_batch):
    """HF drops the KV cache under gradient checkpointing in training: the rows must then run whole."""
    model, input_ids, attention, completion_mask = grouped_batch
    model.gradient_checkpointing_enable()
    model.train()
    batch_rows = []
    hook = model.get_decoder().register_forward_pre_hook(
        lambda module, args, kwargs: batch_rows.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    try:
        got, _ = token_logprobs(model, input_ids, attention, completion_mask, 0.7)
    finally:
        hook.remove()
        model.gradient_checkpointing_disable()
        model.eval()
    expected, _ = reference(model, input_ids, attention, completion_mask, 0.7)
    assert batch_rows == [(6, 9)]
    assert torch.allclose(got, expected, atol=1e-5)
