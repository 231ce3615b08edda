"""compute_advantages against values worked out by hand (see the comments for the arithmetic)."""

import pytest
import torch

from rlvr.algo import compute_advantages, constant_groups

# Two groups of four, one reward: group A = [1, 0, 0, 0], group B = [1, 1, 0, 0].
#   A: mean 0.25, deviations [.75, -.25, -.25, -.25], unbiased var (.5625 + 3 * .0625) / 3 = .25, std .5
#   B: mean 0.5,  deviations [.5, .5, -.5, -.5],       unbiased var 4 * .25 / 3 = 1/3,        std .577350
REWARDS = torch.tensor([1.0, 0, 0, 0, 1, 1, 0, 0]).unsqueeze(1)


def close(actual: torch.Tensor, expected: list[float], tol: float = 1e-5) -> None:
    assert actual.shape == (len(expected),)
    assert torch.allclose(actual, torch.tensor(expected), atol=tol), actual


def test_group_std_is_grpo():
    adv = compute_advantages(REWARDS, 4, adv_scale="group_std")
    close(adv, [1.5, -0.5, -0.5, -0.5, 0.866025, 0.866025, -0.866025, -0.866025])


def test_no_std_is_dr_grpo():
    adv = compute_advantages(REWARDS, 4, adv_scale="none")
    close(adv, [0.75, -0.25, -0.25, -0.25, 0.5, 0.5, -0.5, -0.5])


def test_batch_std_divides_by_the_std_of_all_rewards():
    # all 8 rewards: mean 3/8, sum of squared deviations 3 * .625^2 + 5 * .375^2 = 1.875, var 1.875 / 7, std .517549
    adv = compute_advantages(REWARDS, 4, adv_scale="batch_std")
    close(adv, [1.449138, -0.483046, -0.483046, -0.483046, 0.966092, 0.966092, -0.966092, -0.966092])


def test_accepts_one_dimensional_rewards():
    close(
        compute_advantages(REWARDS.squeeze(1), 4, adv_scale="none"), [0.75, -0.25, -0.25, -0.25, 0.5, 0.5, -0.5, -0.5]
    )


@pytest.mark.parametrize("adv_scale", ["group_std", "batch_std", "none"])
@pytest.mark.parametrize("multi_reward", ["sum_then_normalize", "gdpo"])
def test_equal_rewards_give_exactly_zero(adv_scale, multi_reward):
    # 0.1 is not exact in binary: the float mean of four 0.1s differs from 0.1 in the last bit, and dividing
    # that residue by a tiny std would be an O(1) advantage. It must be exactly 0.
    rewards = torch.tensor([[0.1, 0.7]] * 4 + [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    adv = compute_advantages(rewards, 4, adv_scale=adv_scale, multi_reward=multi_reward)
    assert adv[:4].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert adv[4:].abs().sum() > 0


def test_weighted_sum_then_normalize():
    # rewards [[1,1],[1,0],[0,0],[0,1]] with weights [1, .5]: sums [1.5, 1, 0, .5], mean .75,
    # deviations [.75, .25, -.75, -.25], var (2 * .5625 + 2 * .0625) / 3 = .416667, std .645497
    rewards = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    adv = compute_advantages(rewards, 4, weights=[1.0, 0.5])
    close(adv, [1.161895, 0.387298, -1.161895, -0.387298])


# GDPO, K=2 rewards, two groups of four:
#   group A: r1 = [1,0,0,0] -> [1.5,-.5,-.5,-.5];   r2 = [1,1,0,1] -> mean .75, std .5 -> [.5,.5,-1.5,.5]
#   group B: r1 = [1,1,0,0] -> [.866025]*2 + [-.866025]*2;  r2 = [0,0,0,0] (constant in its group) -> 0
GDPO_REWARDS = torch.tensor(
    [[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
)


def test_gdpo_two_rewards_equal_weights():
    # sums A [2, 0, -2, 0], B [.866025, .866025, -.866025, -.866025]; batch mean 0;
    # sum of squares 8 + 4 * .75 = 11, var 11 / 7, std 1.253566 -> A [1.595448, 0, ...], B [.690849, ...]
    adv = compute_advantages(GDPO_REWARDS, 4, multi_reward="gdpo")
    close(adv, [1.595448, 0.0, -1.595448, 0.0, 0.690849, 0.690849, -0.690849, -0.690849])


def test_gdpo_weights():
    # weights [1, 2]: A [2.5, .5, -3.5, .5], B as above; mean 0; sum of squares 19 + 3 = 22, std sqrt(22/7)
    adv = compute_advantages(GDPO_REWARDS, 4, multi_reward="gdpo", weights=[1.0, 2.0])
    close(adv, [1.410190, 0.282038, -1.974265, 0.282038, 0.488504, 0.488504, -0.488504, -0.488504])


def test_gdpo_differs_from_summing_first():
    # GRPO on the sums: A [2,1,0,1] -> mean 1, std sqrt(2/3) -> [1.224745, 0, -1.224745, 0]
    adv = compute_advantages(GDPO_REWARDS, 4, multi_reward="sum_then_normalize")
    close(adv[:4], [1.224745, 0.0, -1.224745, 0.0])


def test_constant_groups_and_shape_errors():
    assert constant_groups(REWARDS, 4).tolist() == [False, False]
    assert constant_groups(torch.tensor([2.0, 2.0, 0.0, 1.0]), 2).tolist() == [True, False]
    with pytest.raises(ValueError, match="groups of 3"):
        compute_advantages(REWARDS, 3)
    with pytest.raises(ValueError, match="weights"):
        compute_advantages(REWARDS, 4, weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="adv_scale"):
        compute_advantages(REWARDS, 4, adv_scale="rank")
