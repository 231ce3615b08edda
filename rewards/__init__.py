"""Verifiers and reward functions for RLVR. Importable without torch.

from rewards.math import grade          # is a completion's boxed answer equivalent to the gold answer?
from rewards.pool import RewardPool     # score many completions with several functions, time-limited
"""

from rewards.registry import BUILTIN, RewardConfigError, resolve

__all__ = ["BUILTIN", "RewardConfigError", "resolve"]
