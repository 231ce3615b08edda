"""Micro-batches: every row exactly once, sorted by length, trimmed, within the token budget."""

import torch

from rlvr.batching import collate, micro_batches
from rlvr.types import Rollout, Sample

S = Sample(id="s", prompt="p")


def rollout(prompt_len: int, completion_len: int) -> Rollout:
    # token ids encode the row's shape so that rows can be recognised after sorting and trimming
    prompt = [100 + prompt_len] * prompt_len
    completion = [200 + completion_len] * completion_len
    return Rollout(S, prompt, completion, "x", [-0.5] * completion_len, "stop")


ROWS = [rollout(3, 2), rollout(1, 9), rollout(5, 1), rollout(2, 2), rollout(4, 6)]


def batch():
    return collate(ROWS, torch.arange(5, dtype=torch.float32), torch.ones(5), pad_id=0)


def shapes(parts):
    return [(int(mb.prompt_mask.sum(1).max()), int(mb.completion_mask.sum(1).max()), mb.size) for mb in parts]


def test_rows_are_sorted_by_length_and_each_micro_batch_is_trimmed():
    parts = micro_batches(batch(), max_sequences=2)
    # lengths 5, 10, 6, 4, 10 -> order (stable): rows 1, 4, 2, 0, 3
    assert [mb.advantages.tolist() for mb in parts] == [[1.0, 4.0], [2.0, 0.0], [3.0]]
    for mb in parts:  # trimmed: the widest prompt and completion of the micro-batch, no more
        assert mb.prompt_ids.shape[1] == int(mb.prompt_mask.sum(1).max())
        assert mb.completion_ids.shape[1] == int(mb.completion_mask.sum(1).max())
        assert mb.sampling_logprobs.shape == mb.loss_mask.shape == mb.completion_ids.shape
    # a left-padded prompt keeps its tokens at the right: row 1 (prompt 1) beside row 4 (prompt 4)
    assert parts[0].prompt_ids.tolist() == [[0, 0, 0, 101], [104, 104, 104, 104]]


def test_the_token_budget_bounds_padded_tokens():
    parts = micro_batches(batch(), max_sequences=64, max_tokens=20)
    for mb in parts:
        assert mb.size == 1 or mb.size * (mb.prompt_ids.shape[1] + mb.completion_ids.shape[1]) <= 20
    assert sorted(a for mb in parts for a in mb.advantages.tolist()) == [0.0, 1.0, 2.0, 3.0, 4.0]
    # by hand, in length order (row: prompt, completion): 1 (1, 9); + 4 would be 2 x (4 + 9) = 26 > 20, so 4 (4, 6)
    # alone; + 2 would be 2 x (5 + 6) = 22 > 20, so 2 (5, 1); + 0 makes 2 x (5 + 2) = 14; + 3 would be 3 x 7 = 21
    assert shapes(parts) == [(1, 9, 1), (4, 6, 1), (5, 2, 2), (2, 2, 1)]


def test_one_sequence_longer_than_the_budget_still_trains_alone():
    parts = micro_batches(batch(), max_sequences=64, max_tokens=3)
    assert [mb.size for mb in parts] == [1, 1, 1, 1, 1]
