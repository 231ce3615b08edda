"""Zero-variance group selection and overlong handling, by hand."""

import pytest
import torch

from rlvr.algo import informative_groups, overlong_loss_mask, soft_overlong_penalty


def test_informative_groups_marks_groups_with_variance():
    rewards = torch.tensor([[1.0], [1.0], [0.0], [1.0], [0.0], [0.0]])
    assert informative_groups(rewards, 2).tolist() == [False, True, False]


def test_informative_groups_looks_at_every_reward_column():
    # equal accuracy, different format reward: still informative for a multi-reward objective
    rewards = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert informative_groups(rewards, 2).tolist() == [True]


def test_overlong_mask_zeroes_truncated_rollouts():
    truncated = torch.tensor([True, False, True])
    assert overlong_loss_mask(truncated, "mask").tolist() == [0.0, 1.0, 0.0]
    assert overlong_loss_mask(truncated, "none").tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError):
        overlong_loss_mask(truncated, "drop")


def test_soft_overlong_penalty_ramps_over_the_buffer():
    # max 100, buffer 20: free up to 80, then (80 - L) / 20 down to -1 at 100
    lengths = torch.tensor([50, 80, 90, 95, 100, 120])
    assert soft_overlong_penalty(lengths, 100, 20).tolist() == [0.0, 0.0, -0.5, -0.75, -1.0, -1.0]
    with pytest.raises(ValueError):
        soft_overlong_penalty(lengths, 100, 0)
