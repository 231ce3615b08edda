"""Score completions with several reward functions in a process pool, each call under a time limit.

A reward function that raises, returns something that is not a finite number, crashes its worker, or runs
past its `timeout_s` scores 0 for that rollout and is counted (`errors`, `timeouts`); training goes on. The
worker of a call that timed out is killed and replaced (pebble does this), so a hung verifier costs one
worker restart, not the run.

Why pebble rather than `concurrent.futures`: the standard pool cannot kill a running task, so one infinite
loop in a reward function would hold a worker forever.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import multiprocessing
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from pebble import ProcessExpired, ProcessPool

from rewards.registry import RewardConfigError, RewardFn, resolve


@dataclass(frozen=True)
class RewardSpec:
    """One reward function of a recipe: its name (the metric key), reference, weight, limit and kwargs."""

    name: str
    fn: str
    weight: float = 1.0
    timeout_s: float = 10.0
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_entry(cls, name: str, entry: str | dict[str, Any]) -> RewardSpec:
        """A recipe entry: a function reference (`"my_reward.py:fn"`) or a mapping with `fn` (default: the
        entry's name), `weight`, `timeout_s`; any other key is passed to the function as a keyword."""
        if isinstance(entry, str):
            return cls(name=name, fn=entry)
        if not isinstance(entry, dict):
            raise RewardConfigError(f"reward.{name} must be a function reference or a mapping, got {entry!r}")
        rest = dict(entry)
        fn = str(rest.pop("fn", name))
        weight = _finite_number(f"reward.{name}.weight", rest.pop("weight", 1.0))
        timeout_s = _finite_number(f"reward.{name}.timeout_s", rest.pop("timeout_s", 10.0))
        if timeout_s <= 0:
            raise RewardConfigError(f"reward.{name}.timeout_s must be > 0, got {timeout_s}")
        return cls(name=name, fn=fn, weight=weight, timeout_s=timeout_s, kwargs=rest)


def _finite_number(key: str, value: Any) -> float:
    """A recipe number (quoted or not) as a float; anything else is a one-line config error, not a traceback."""
    if isinstance(value, bool):  # float(True) == 1.0 would hide a mistake
        raise RewardConfigError(f"{key} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RewardConfigError(f"{key} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise RewardConfigError(f"{key} must be a finite number, got {value!r}")
    return number


def specs_from_config(reward: dict[str, Any]) -> list[RewardSpec]:
    """All enabled entries of a recipe's `reward` mapping (an entry set to null is off)."""
    specs = [RewardSpec.from_entry(name, entry) for name, entry in reward.items() if entry is not None]
    if not specs:
        raise RewardConfigError(
            "no reward function configured: choose e.g. reward=math or set reward.custom=file.py:fn"
        )
    return specs


@dataclass
class ScoreResult:
    """`rewards[i][k]`: reward function k on completion i. Counts and one example message per function."""

    rewards: list[list[float]]
    infos: list[list[dict[str, Any] | None]]
    errors: dict[str, int]
    timeouts: dict[str, int]
    error_examples: dict[str, str]


_RESOLVED: dict[str, RewardFn] = {}


def call_reward(ref: str, completion: str, sample: dict[str, Any], kwargs: dict[str, Any]):
    """Run one reward function; returns (value, info). Runs inside a pool worker."""
    fn = _RESOLVED.get(ref)
    if fn is None:
        fn = _RESOLVED[ref] = resolve(ref)
    out = fn(completion, sample, **kwargs)
    value, info = out if isinstance(out, tuple) else (out, None)
    return reward_value(value), info


def reward_value(value: Any) -> float:
    """A reward function's value as a float: any real number (numpy and torch scalars, a 0-d array, Fraction,
    bool) is fine, since reward code built on those libraries returns them; text, containers, NaN and inf are
    a TypeError (the call then scores 0 and counts as an error)."""
    number = None
    if not isinstance(value, (str, bytes)) and hasattr(value, "__float__"):
        with contextlib.suppress(TypeError, ValueError, OverflowError):  # e.g. a tensor of several elements
            number = float(value)
    if number is None or not math.isfinite(number):
        raise TypeError(f"reward must be a finite number, got {value!r}"[:300])
    return number


def check_reward_function(spec: RewardSpec) -> None:
    """Fail now, in the parent and before any rollout, with one line naming the entry: a reference that does not
    resolve, a function that cannot be called as `fn(completion, sample, **kwargs)` with the entry's kwargs
    (otherwise every call would fail in a worker and score 0), or a failed preflight."""
    fn = resolve(spec.fn)
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a callable without a readable signature: its first call will tell
        signature = None
    if signature is not None:
        try:
            signature.bind("completion", {}, **spec.kwargs)
        except TypeError as exc:
            call = ", ".join(["completion", "sample", *(f"{k}={v!r}" for k, v in spec.kwargs.items())])
            raise RewardConfigError(f"reward.{spec.name}: {spec.fn} cannot be called as fn({call}): {exc}") from None
    preflight = getattr(fn, "preflight", None)
    if preflight is not None:  # e.g. the code reward checks that it can sandbox before any rollout
        try:
            preflight(**spec.kwargs)
        except Exception as exc:
            raise RewardConfigError(f"reward.{spec.name}: {exc}") from None


class RewardPool:
    """A persistent pool of worker processes that score (completion, sample) pairs."""

    def __init__(self, specs: list[RewardSpec], workers: int = 2) -> None:
        if not specs:
            raise ValueError("at least one reward function is needed")
        for spec in specs:
            check_reward_function(spec)
        self.specs = specs
        # forkserver: a clean, small parent to fork workers from (never fork the learner with its threads).
        self._pool = ProcessPool(max_workers=max(1, workers), context=multiprocessing.get_context("forkserver"))

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    @property
    def weights(self) -> list[float]:
        return [s.weight for s in self.specs]

    def score(
        self, completions: list[str], samples: list[dict[str, Any]], specs: list[RewardSpec] | None = None
    ) -> ScoreResult:
        """Every spec on every (completion, sample); `specs` overrides the pool's own (e.g. eval's grader)."""
        specs = specs or self.specs
        futures = [
            [self._pool.schedule(call_reward, args=(s.fn, c, sample, s.kwargs), timeout=s.timeout_s) for s in specs]
            for c, sample in zip(completions, samples, strict=True)
        ]
        result = ScoreResult(
            rewards=[],
            infos=[],
            errors=dict.fromkeys([s.name for s in specs], 0),
            timeouts=dict.fromkeys([s.name for s in specs], 0),
            error_examples={},
        )
        for row in futures:
            values, infos = [], []
            for spec, future in zip(specs, row, strict=True):
                value, info = 0.0, None
                try:
                    value, info = future.result()
                except FutureTimeout:
                    result.timeouts[spec.name] += 1
                except (Exception, ProcessExpired) as exc:  # the function's own failure, not ours
                    result.errors[spec.name] += 1
                    result.error_examples.setdefault(spec.name, f"{type(exc).__name__}: {exc}"[:300])
                values.append(value)
                infos.append(info)
            result.rewards.append(values)
            result.infos.append(infos)
        return result

    def close(self) -> None:
        self._pool.stop()
        self._pool.join(timeout=5)

    def __enter__(self) -> RewardPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
