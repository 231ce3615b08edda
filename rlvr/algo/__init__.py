"""The functional core: every GRPO-family trick as a small pure function on tensors, registered by name.

Usable without the loop:

    from rlvr.algo import compute_advantages, policy_loss, LossSettings
"""

from rlvr.algo.advantages import ADV_SCALES, MULTI_REWARDS, compute_advantages, constant_groups
from rlvr.algo.filters import (
    OVERLONG,
    ZERO_VARIANCE,
    informative_groups,
    overlong_loss_mask,
    soft_overlong_penalty,
)
from rlvr.algo.losses import (
    KL_ESTIMATORS,
    LOSS_AGGS,
    POLICY_LOSSES,
    LossSettings,
    aggregate,
    kl_penalty,
    policy_loss,
    tis_weights,
)

__all__ = [
    "ADV_SCALES",
    "KL_ESTIMATORS",
    "LOSS_AGGS",
    "MULTI_REWARDS",
    "OVERLONG",
    "POLICY_LOSSES",
    "ZERO_VARIANCE",
    "LossSettings",
    "aggregate",
    "compute_advantages",
    "constant_groups",
    "informative_groups",
    "kl_penalty",
    "overlong_loss_mask",
    "policy_loss",
    "soft_overlong_penalty",
    "tis_weights",
]
