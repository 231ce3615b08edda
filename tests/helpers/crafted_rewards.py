"""Reward functions crafted to steer a test: fixed values, or rewards that drive the policy somewhere on purpose.

Loaded by file path through `reward.custom=...` (or `+reward.NAME={fn: ...}`), exactly as a user's own would be.
"""


def stated_reward(completion: str, sample: dict, **_) -> float:
    """The number written after `reward=` in the completion: scripted rollouts choose their own reward."""
    return float(completion.rsplit("reward=", 1)[1])
