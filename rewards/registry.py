"""Reward functions by name: the built-ins, any importable `module:function`, or a `path/to/file.py:function`.

A reward function has the signature

    def my_reward(completion: str, sample: dict, **kwargs) -> float | tuple[float, dict]

where `sample` holds the dataset row's `answer`, `tests`, `prompt`, `id` and metadata, and `kwargs` are the
extra keys of its recipe entry (e.g. `reward.code.memory_mb=256`). It returns a real number (float, int,
bool, a numpy or torch scalar), or that and a dict of details that is logged with the sample completions.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

RewardFn = Callable[..., Any]

BUILTIN: dict[str, str] = {
    "math_accuracy": "rewards.math:math_accuracy",
    "boxed_format": "rewards.format:boxed_format",
    "think_format": "rewards.format:think_format",
    "tag_count": "rewards.format:tag_count",
    "language_consistency": "rewards.format:language_consistency",
    "code_pass_rate": "rewards.code:code_pass_rate",
}


class RewardConfigError(ValueError):
    """A reward reference does not resolve to a callable; the message says which and why."""


def _split(ref: str) -> tuple[str, str]:
    if ":" in ref:
        target, _, attr = ref.rpartition(":")
    elif "." in ref:
        target, _, attr = ref.rpartition(".")
    else:
        known = ", ".join(sorted(BUILTIN))
        raise RewardConfigError(f"unknown reward function {ref!r}: use one of {known}, 'module:fn' or 'file.py:fn'")
    return target, attr


def _load_file(path: Path) -> Any:
    if not path.is_file():
        raise RewardConfigError(f"reward file not found: {path}")
    name = f"rlvr_user_reward_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise RewardConfigError(f"reward file {path} failed to import: {type(exc).__name__}: {exc}") from exc
    return module


def resolve(ref: str) -> RewardFn:
    """The callable behind `ref`: a built-in name, `package.module:fn`, `package.module.fn` or `file.py:fn`."""
    ref = BUILTIN.get(ref, ref)
    target, attr = _split(ref)
    if target.endswith(".py"):
        module = _load_file(Path(target).expanduser())
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise RewardConfigError(f"cannot import reward module {target!r}: {exc}") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise RewardConfigError(f"{target!r} has no callable {attr!r}")
    return fn
