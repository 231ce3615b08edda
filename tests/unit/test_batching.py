"""Micro-batches: every row exactly once, cut in length order where padding and overhead cost least, trimmed,
within the row and token budgets; costs written out by hand."""

import torch

from rlvr import batching
from rlvr.batching import collate, length_order, micro_batches, split_rows
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


def advantages(parts):
    return [mb.advantages.tolist() for mb in parts]


# (prompt, completion) of ROWS: 0 (3, 2), 1 (1, 9), 2 (5, 1), 3 (2, 2), 4 (4, 6); length order (longest completion,
# then longest prompt): rows 1, 4, 0, 3, 2. Costs below are a micro-batch's rows x (widest prompt + widest
# completion), every prompt distinct.


def test_without_overhead_every_row_alone_is_cheapest(monkeypatch):
    monkeypatch.setattr(batching, "MICRO_BATCH_OVERHEAD_TOKENS", 0)
    # any pair pads at least one row: e.g. rows 0 and 3 together cost 2 x (3 + 2) = 10 > 5 + 4
    assert advantages(micro_batches(batch(), max_sequences=2)) == [[1.0], [4.0], [0.0], [3.0], [2.0]]


def test_the_cut_in_length_order_that_costs_least(monkeypatch):
    monkeypatch.setattr(batching, "MICRO_BATCH_OVERHEAD_TOKENS", 100)
    # at most 2 rows: 3 micro-batches at least, and 100 each makes 3 the best; of the 3-way cuts of 1, 4, 0, 3, 2:
    # (1 4)(0 3)(2) = 26 + 10 + 6 = 42, (1 4)(0)(3 2) = 26 + 5 + 14 = 45, (1)(4 0)(3 2) = 10 + 20 + 14 = 44
    parts = micro_batches(batch(), max_sequences=2)
    assert advantages(parts) == [[1.0, 4.0], [0.0, 3.0], [2.0]]
    for mb in parts:  # trimmed: the widest prompt and completion of the micro-batch, no more
        assert mb.prompt_ids.shape[1] == int(mb.prompt_mask.sum(1).max())
        assert mb.completion_ids.shape[1] == int(mb.completion_mask.sum(1).max())
        assert mb.sampling_logprobs.shape == mb.loss_mask.shape == mb.completion_ids.shape
    # a left-padded prompt keeps its tokens at the right: row 1 (prompt 1) beside row 4 (prompt 4)
    assert parts[0].prompt_ids.tolist() == [[0, 0, 0, 101], [104, 104, 104, 104]]


def test_the_token_budget_bounds_the_positions_of_a_micro_batch():
    parts = micro_batches(batch(), max_sequences=64, max_tokens=20)
    for mb in parts:
        assert mb.size == 1 or mb.size * (mb.prompt_ids.shape[1] + mb.completion_ids.shape[1]) <= 20
    # by hand, in length order 1 (1, 9), 4 (4, 6), 0 (3, 2), 3 (2, 2), 2 (5, 1): 1 + 4 is 2 x 13 = 26 > 20; 4 + 0
    # is 2 x 10 = 20, + 3 would be 30; 0 + 3 + 2 would be 3 x 7 = 21; so at least 3 micro-batches, and the only
    # 3-way cut within the budget is (1)(4 0)(3 2)
    assert shapes(parts) == [(1, 9, 1), (4, 6, 2), (5, 2, 2)]


def test_one_sequence_longer_than_the_budget_still_trains_alone():
    parts = micro_batches(batch(), max_sequences=64, max_tokens=3)
    assert [mb.size for mb in parts] == [1, 1, 1, 1, 1]


def test_rows_sharing_a_prompt_count_it_once(monkeypatch):
    monkeypatch.setattr(batching, "MICRO_BATCH_OVERHEAD_TOKENS", 0)
    a, b = [7] * 10, [8] * 2  # prompt a (10 tokens) for three rows, b (2) for one
    rows = [Rollout(S, a, [9] * 5, "x", [0.0] * 5, "stop"), Rollout(S, b, [9], "x", [0.0], "stop"),
            Rollout(S, a, [9] * 3, "x", [0.0] * 3, "stop"), Rollout(S, a, [9] * 4, "x", [0.0] * 4, "stop")]  # fmt: skip
    shared = collate(rows, torch.arange(4, dtype=torch.float32), torch.ones(4), pad_id=0)
    # length order: rows 0 (a, 5), 3 (a, 4), 2 (a, 3), 1 (b, 1). Sharing: 0 3 2 together cost 10 + 3 x 5 = 25,
    # alone 15 + 14 + 13 = 42; adding 1 would cost 2 x 10 + 4 x 5 = 40 > 25 + 3
    assert advantages(micro_batches(shared, max_sequences=64, share_prompts=True)) == [[0.0, 3.0, 2.0], [1.0]]
    # each row its own prompt: 0 3 2 together cost 3 x 15 = 45 > 42, so every row alone
    assert advantages(micro_batches(shared, max_sequences=64)) == [[0.0], [3.0], [2.0], [1.0]]


def test_a_slice_of_the_length_order_sorts_back_into_it():
    """Learner ranks take `split_rows` slices and cut them again: their first rows together are the first rows
    of the whole order (what `learn/update_kl` relies on)."""
    whole = batch()
    order = length_order(whole)
    assert order == [1, 4, 0, 3, 2]
    for k, part in enumerate(split_rows(whole, 2)):
        assert part.advantages.tolist() == [float(i) for i in order[k::2]]
        assert [part.advantages[i].item() for i in length_order(part)] == part.advantages.tolist()


def test_the_cut_is_the_cheapest_of_all_cuts_by_brute_force():
    """Random small batches: the dynamic programme's cut costs what the cheapest of every contiguous cut of the
    length order costs (enumerated here), within the row and token limits."""
    import itertools
    import random

    rng = random.Random(0)
    overhead = batching.MICRO_BATCH_OVERHEAD_TOKENS
    for case in range(150):
        n = rng.randint(1, 7)
        prompts = [[50 + k] * rng.randint(1, 40) for k in range(rng.randint(1, 3))]
        lengths = [rng.randint(1, 60) for _ in range(n)]
        rows = [Rollout(S, rng.choice(prompts), [9] * c, "x", [0.0] * c, "stop") for c in lengths]
        whole = collate(rows, torch.arange(n, dtype=torch.float32), torch.ones(n), pad_id=0)
        share, max_sequences, max_tokens = case % 2 == 0, rng.randint(1, 7), rng.choice([0, 80, 200])

        def positions(part, rows=rows, share=share):
            widest_p = max(len(rows[i].prompt_ids) for i in part)
            widest_c = max(len(rows[i].completion_ids) for i in part)
            distinct = len({tuple(rows[i].prompt_ids) for i in part}) if share else len(part)
            return distinct * widest_p + len(part) * widest_c

        order = length_order(whole)
        best = float("inf")
        for cuts in itertools.product([False, True], repeat=n - 1):
            parts, current = [], [order[0]]
            for i, cut in zip(order[1:], cuts, strict=True):
                if cut:
                    parts.append(current)
                    current = []
                current.append(i)
            parts.append(current)
            if any(len(p) > max_sequences or (max_tokens and len(p) > 1 and positions(p) > max_tokens) for p in parts):
                continue
            best = min(best, sum(positions(p) + overhead for p in parts))
        got = micro_batches(whole, max_sequences=max_sequences, max_tokens=max_tokens, share_prompts=share)
        got_rows = [[int(a) for a in mb.advantages.tolist()] for mb in got]
        assert sorted(i for p in got_rows for i in p) == list(range(n))
        assert sum(positions(p) + overhead for p in got_rows) == best, (case, got_rows)
