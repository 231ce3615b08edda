"""The transformers rollout engine: groups, finish reasons, stop strings, greedy determinism, log-probs."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.rollout.base import SamplingParams
from rlvr.rollout.hf import HFEngine
from rlvr.types import Sample


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    return HFEngine(model, AutoTokenizer.from_pretrained(tiny_model_dir), batch_size=5)


SAMPLES = [Sample(id="a", prompt="Question:\nWhat is 3 + 4 - 2?\n\nAnswer:"), Sample(id="b", prompt="Q: 5 + 5?\nA:")]


def test_groups_have_n_rollouts_with_aligned_logprobs(engine):
    groups = engine.generate(SAMPLES, SamplingParams(n=3, temperature=1.0, max_tokens=12, seed=0))
    assert [len(g) for g in groups] == [3, 3]  # 6 sequences through chunks of 5: chunking keeps the order
    for sample, group in zip(SAMPLES, groups, strict=True):
        for r in group:
            assert r.sample is sample and len(r.logprobs) == len(r.completion_ids) <= 12
            assert all(lp <= 0 for lp in r.logprobs)
            assert r.finish_reason in ("stop", "length")
            if r.finish_reason == "stop":
                assert r.completion_ids[-1] == engine.tokenizer.eos_token_id
            else:
                assert len(r.completion_ids) == 12


def test_greedy_is_deterministic_and_seeded_sampling_repeats(engine):
    greedy = SamplingParams(n=2, temperature=0.0, max_tokens=10)
    a = engine.generate(SAMPLES, greedy)
    b = engine.generate(SAMPLES, greedy)
    assert a[0][0].completion_ids == a[0][1].completion_ids == b[0][0].completion_ids
    sampled = SamplingParams(n=4, temperature=1.0, max_tokens=10, seed=7)
    assert [r.completion_ids for r in engine.generate(SAMPLES, sampled)[0]] == [
        r.completion_ids for r in engine.generate(SAMPLES, sampled)[0]
    ]


def test_stop_strings_end_the_completion(engine):
    free = engine.generate(SAMPLES[:1], SamplingParams(n=1, temperature=0.0, max_tokens=20))[0][0]
    assert "." in free.completion  # the tiny model writes sentences
    stopped = engine.generate(SAMPLES[:1], SamplingParams(n=1, temperature=0.0, max_tokens=20, stop=(".",)))[0][0]
    assert stopped.finish_reason == "stop" and stopped.completion.endswith(".")
    assert stopped.completion.count(".") == 1


def test_logprobs_are_those_of_the_temperature_scaled_distribution(engine):
    # independent check: score the sampled tokens with a plain forward over prompt + completion
    params = SamplingParams(n=2, temperature=0.7, max_tokens=10, seed=3)
    rollout = engine.generate(SAMPLES[:1], params)[0][1]
    ids = torch.tensor([rollout.prompt_ids + rollout.completion_ids])
    with torch.no_grad():
        logits = engine.model(ids).logits[0, len(rollout.prompt_ids) - 1 : -1]
    expected = torch.log_softmax(logits / 0.7, dim=-1).gather(-1, torch.tensor(rollout.completion_ids)[:, None])
    assert torch.allclose(torch.tensor(rollout.logprobs), expected.squeeze(1), atol=1e-5)


def plain_logprobs(model, rollout, temperature: float) -> torch.Tensor:
    """The completion's log-probs with its prompt alone: a batch of one, no padding, no attention mask."""
    ids = torch.tensor([rollout.prompt_ids + rollout.completion_ids])
    with torch.no_grad():
        logits = model(ids).logits[0, len(rollout.prompt_ids) - 1 : -1]
    logp = torch.log_softmax(logits / temperature, dim=-1)
    return logp.gather(-1, torch.tensor(rollout.completion_ids)[:, None]).squeeze(1)


def test_logprobs_of_a_left_padded_batch_match_each_prompt_run_alone(engine):
    # three prompts of different lengths in one generate call (5 per chunk): the shorter two are left-padded,
    # so positions and attention must come from the mask, in generate and in the log-prob forward alike
    samples = [
        Sample(id="short", prompt="Q: 1 + 1?\nA:"),
        Sample(
            id="long", prompt="Question:\nIvo has 8 bags with 2 stamps in each bag. He gives away 6. Left?\n\nAnswer:"
        ),
        Sample(id="mid", prompt="Question:\nWhat is 12 - 5?\n\nAnswer:"),
    ]
    groups = engine.generate(samples, SamplingParams(n=1, temperature=0.7, max_tokens=10, seed=5))
    rollouts = [g[0] for g in groups]
    assert len({len(r.prompt_ids) for r in rollouts}) == 3
    for r in rollouts:
        assert torch.allclose(torch.tensor(r.logprobs), plain_logprobs(engine.model, r, 0.7), atol=1e-5), r.sample.id


def test_weight_sync_only_moves_the_version(engine):
    metrics = engine.update_weights(lambda: iter(()), version=5)
    assert engine.weight_version == 5 and metrics["rollout/sync_mb"] == 0.0
    assert engine.generate(SAMPLES[:1], SamplingParams(n=1, max_tokens=2))[0][0].weight_version == 5
