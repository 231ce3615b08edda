"""Score completions with several reward functions in a process pool, each call under a time limit.

A reward function that raises, returns something that is not a finite number, crashes its worker, or runs
past its `timeout_s` scores 0 for that rollout and is counted (`errors`, `timeouts`); training goes on. The
worker of a call that timed out is killed and replaced (pebble does this), so a hung verifier costs one
worker restart, not the run.

Two limits bound what a function that hangs can cost. `score(..., deadline_s=...)` cancels every call still
unfinished at the deadline (a step's scoring never takes longer, however many rollouts there are: pebble's
per-call limit counts from each call's start, so alone it would cost timeout_s per rollout, one worker at a
time). `RewardWatch` stops the run when a function has done nothing but time out for several steps.

Why pebble rather than `concurrent.futures`: the standard pool cannot kill a running task, so one infinite
loop in a reward function would hold a worker forever.

Under `cluster=ray` the workers are Ray actors instead (`RayCalls`), one CPU each, spread over the cluster's
nodes, so scoring (sandboxed code above all) grows with the cluster rather than with the learner's machine.
The same limits and accounting hold: a call past its `timeout_s` or unfinished at the deadline has its worker
killed, and the worker is replaced.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import multiprocessing
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
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
            return cls(name=name, fn=_absolute(entry))
        if not isinstance(entry, dict):
            raise RewardConfigError(f"reward.{name} must be a function reference or a mapping, got {entry!r}")
        rest = dict(entry)
        fn = _absolute(str(rest.pop("fn", name)))
        weight = _finite_number(f"reward.{name}.weight", rest.pop("weight", 1.0))
        timeout_s = _finite_number(f"reward.{name}.timeout_s", rest.pop("timeout_s", 10.0))
        if timeout_s <= 0:
            raise RewardConfigError(f"reward.{name}.timeout_s must be > 0, got {timeout_s}")
        return cls(name=name, fn=fn, weight=weight, timeout_s=timeout_s, kwargs=rest)


def _absolute(ref: str) -> str:
    """`file.py:fn` with the file's absolute path: the call may run in another working directory (a Ray actor,
    another node with the same file system)."""
    target, sep, attr = ref.rpartition(":")
    if sep and target.endswith(".py") and Path(target).expanduser().is_file():
        return f"{Path(target).expanduser().resolve()}:{attr}"
    return ref


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
    """All enabled entries of a recipe's `reward` mapping (an entry set to null is off), each function already
    resolved and its signature checked: a run parses these first, so a broken entry fails in a second."""
    specs = [RewardSpec.from_entry(name, entry) for name, entry in reward.items() if entry is not None]
    if not specs:
        raise RewardConfigError(
            "no reward function configured: choose e.g. reward=math or set reward.custom=file.py:fn"
        )
    for spec in specs:
        check_signature(spec)
    return specs


@dataclass
class ScoreResult:
    """`rewards[i][k]`: reward function k on completion i; per function (by name), how its calls ended."""

    rewards: list[list[float]]
    infos: list[list[dict[str, Any] | None]]
    errors: dict[str, int]  #: raised, returned no finite number, or crashed its worker
    timeouts: dict[str, int]  #: ran past timeout_s, or were unfinished at the deadline
    finished: dict[str, int]  #: returned or raised: the function did not hang
    hung: dict[str, int]  #: timeouts of calls that had started: evidence that the function itself hangs
    first_failure: dict[str, str]  #: the first error or timeout of each function that had one

    @classmethod
    def empty(cls, n_completions: int, specs: list[RewardSpec]) -> ScoreResult:
        """Every reward 0 (what a failed call scores) and every count 0, to be filled in as calls end."""
        names = [s.name for s in specs]
        return cls(
            rewards=[[0.0] * len(specs) for _ in range(n_completions)],
            infos=[[None] * len(specs) for _ in range(n_completions)],
            errors=dict.fromkeys(names, 0),
            timeouts=dict.fromkeys(names, 0),
            finished=dict.fromkeys(names, 0),
            hung=dict.fromkeys(names, 0),
            first_failure={},
        )

    def record(self, i: int, k: int, spec: RewardSpec, future: Future) -> None:
        """The outcome of a call that ended: its value, or a failure counted against its function."""
        try:
            value, info = future.result()
        except TimeoutError:  # pebble's per-call limit (the call had started: the limit counts from its start)
            self.record_timeout(
                spec, started=True, message=f"no result within {spec.timeout_s:g} s (reward.{spec.name}.timeout_s)"
            )
            return
        except (Exception, ProcessExpired) as exc:  # the function's own failure, not ours
            self.errors[spec.name] += 1
            self.finished[spec.name] += 1
            self.first_failure.setdefault(spec.name, f"{type(exc).__name__}: {exc}"[:300])
            return
        self.finished[spec.name] += 1
        self.rewards[i][k], self.infos[i][k] = value, info

    def record_timeout(self, spec: RewardSpec, started: bool, message: str) -> None:
        self.timeouts[spec.name] += 1
        self.hung[spec.name] += started
        self.first_failure.setdefault(spec.name, f"TimeoutError: {message}")


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


def check_signature(spec: RewardSpec) -> RewardFn:
    """The entry's function, after checking that it can be called as `fn(completion, sample, **kwargs)` with the
    entry's kwargs (otherwise every call would fail in a worker and score 0); one line naming the entry if not."""
    fn = resolve(spec.fn)
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a callable without a readable signature: its first call will tell
        return fn
    try:
        signature.bind("completion", {}, **spec.kwargs)
    except TypeError as exc:
        call = ", ".join(["completion", "sample", *(f"{k}={v!r}" for k, v in spec.kwargs.items())])
        raise RewardConfigError(f"reward.{spec.name}: {spec.fn} cannot be called as fn({call}): {exc}") from None
    return fn


def check_reward_function(spec: RewardSpec) -> None:
    """Fail now, in the parent and before any rollout: a reference that does not resolve, a signature that does
    not fit (`check_signature`), or a failed preflight (e.g. the code reward cannot sandbox)."""
    preflight = getattr(check_signature(spec), "preflight", None)
    if preflight is not None:
        try:
            preflight(**spec.kwargs)
        except Exception as exc:
            raise RewardConfigError(f"reward.{spec.name}: {exc}") from None


class PebbleCalls:
    """Reward calls in a pool of worker processes on this machine (the default)."""

    def __init__(self, workers: int) -> None:
        # forkserver: a clean, small parent to fork workers from (never fork the learner with its threads).
        self._pool = ProcessPool(max_workers=workers, context=multiprocessing.get_context("forkserver"))

    def schedule(self, args: tuple, timeout_s: float) -> Future:
        return self._pool.schedule(call_reward, args=args, timeout=timeout_s)

    def wait(self, calls, timeout_s: float | None) -> set:
        return wait(calls, timeout=timeout_s, return_when=FIRST_COMPLETED)[0]

    def close(self) -> None:
        self._pool.stop()
        self._pool.join(timeout=5)


class RewardWorker:
    """One reward worker on a Ray cluster: an actor (one CPU) that runs calls one at a time."""

    def call(self, *args: Any):
        return call_reward(*args)


class RayCall:
    """One reward call on a `RewardWorker`, with the part of a `Future`'s interface `ScoreResult.record` and
    the deadline use. The worker was idle and ready when the call was sent, so its time limit counts from the
    call's start, as pebble's does."""

    def __init__(self, ray, worker, ref, timeout_s: float) -> None:
        self.ray, self.worker, self.ref, self.timeout_s = ray, worker, ref, timeout_s
        self.expires = time.monotonic() + timeout_s
        self.expired = False  # ran past its limit
        self.killed = False  # its worker was killed (past its limit, or at the deadline)

    def result(self):
        if self.expired:
            raise TimeoutError(f"no result within {self.timeout_s:g} s")
        try:
            return self.ray.get(self.ref)
        except self.ray.exceptions.RayTaskError as exc:  # the function's own exception, as pebble reports it
            cause = getattr(exc, "cause", None)
            raise cause if isinstance(cause, Exception) else RuntimeError(str(exc).splitlines()[0]) from None

    def running(self) -> bool:
        return True

    def done(self) -> bool:
        return bool(self.ray.wait([self.ref], timeout=0)[0])

    def cancel(self) -> bool:
        """Kill the worker running the call (pebble does the same); False if the call had ended."""
        if self.done():
            return False
        with contextlib.suppress(Exception):
            self.ray.kill(self.worker, no_restart=True)
        self.killed = True
        return True

    def expire(self) -> None:
        self.cancel()
        self.expired = True


class RayCalls:
    """Reward calls on `workers` Ray actors of one CPU each, spread over the cluster (`cluster=ray`). Like
    pebble's pool: a call goes only to an idle worker that is up, and a worker that was killed (a call past
    its limit or the deadline) or crashed is replaced, started and ready before it gets the next call, so no
    call's limit pays for a worker's start."""

    START_TIMEOUT_S = 300.0

    def __init__(self, workers: int) -> None:
        import ray

        self.ray = ray
        self._remote = ray.remote(num_cpus=1, max_restarts=0, scheduling_strategy="SPREAD")(RewardWorker)
        self._idle = [self._start() for _ in range(workers)]
        self._busy: dict[RayCall, Any] = {}

    def _start(self):
        worker = self._remote.remote()
        self.ray.get(worker.__ray_ready__.remote(), timeout=self.START_TIMEOUT_S)
        return worker

    def schedule(self, args: tuple, timeout_s: float) -> RayCall:
        self._settle()
        worker = self._idle.pop()
        call = RayCall(self.ray, worker, worker.call.remote(*args), timeout_s)
        self._busy[call] = worker
        return call

    def _settle(self) -> None:
        """Return the workers of ended calls to the idle list; replace those that were killed or died."""
        for call in [c for c in self._busy if c.killed or c.done()]:
            worker = self._busy.pop(call)
            alive = not call.killed
            if alive:
                try:
                    call.result()
                except self.ray.exceptions.RayActorError:
                    alive = False
                except Exception:  # the function's own failure: the worker is fine
                    pass
            self._idle.append(worker if alive else self._start())

    def wait(self, calls, timeout_s: float | None) -> set:
        """The calls that ended, or ran past their own limit (their worker killed here); empty only at
        `timeout_s`."""
        calls = list(calls)
        end = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            soonest = min(call.expires for call in calls)
            limit = (soonest if end is None else min(end, soonest)) - time.monotonic()
            ready, _ = self.ray.wait([call.ref for call in calls], num_returns=1, timeout=max(0.0, limit))
            done = {call for call in calls if call.ref in ready}
            now = time.monotonic()
            for call in calls:
                if call not in done and call.expires <= now:
                    call.expire()
                    done.add(call)
            if done or (end is not None and now >= end):
                return done

    def close(self) -> None:
        for worker in [*self._idle, *self._busy.values()]:
            with contextlib.suppress(Exception):
                self.ray.kill(worker, no_restart=True)
        self._idle, self._busy = [], {}


class RewardPool:
    """Workers that score (completion, sample) pairs: processes on this machine, or Ray actors (`on_ray`)."""

    def __init__(self, specs: list[RewardSpec], workers: int = 2, on_ray: bool = False) -> None:
        if not specs:
            raise ValueError("at least one reward function is needed")
        for spec in specs:
            check_reward_function(spec)
        self.specs = specs
        self.workers = max(1, workers)
        self._calls = RayCalls(self.workers) if on_ray else PebbleCalls(self.workers)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    @property
    def weights(self) -> list[float]:
        return [s.weight for s in self.specs]

    def score(
        self,
        completions: list[str],
        samples: list[dict[str, Any]],
        specs: list[RewardSpec] | None = None,
        deadline_s: float | None = None,
    ) -> ScoreResult:
        """Every spec on every (completion, sample); `specs` overrides the pool's own (e.g. eval's grader).

        Calls still unfinished `deadline_s` seconds from now are cancelled (a running call's worker is killed
        and replaced) and count as timeouts. The pool is handed one call per worker at a time, so at the
        deadline nothing waits inside pebble: a call either runs (and is killed) or was never sent."""
        specs = specs or self.specs
        if len(completions) != len(samples):
            raise ValueError(f"{len(completions)} completions but {len(samples)} samples")
        result = ScoreResult.empty(len(completions), specs)
        deadline = None if deadline_s is None else time.monotonic() + deadline_s
        waiting = deque((i, k) for i in range(len(completions)) for k in range(len(specs)))
        running: dict[Future | RayCall, tuple[int, int]] = {}
        while True:
            while waiting and len(running) < self.workers and not _passed(deadline):
                i, k = waiting.popleft()
                args = (specs[k].fn, completions[i], samples[i], specs[k].kwargs)
                running[self._calls.schedule(args, specs[k].timeout_s)] = (i, k)
            if not running:
                break
            done = self._calls.wait(running, _left(deadline))
            if not done:
                break  # the deadline passed
            for future in done:
                i, k = running.pop(future)
                result.record(i, k, specs[k], future)
        for future, (i, k) in running.items():
            started = future.running()
            if future.cancel():  # pebble kills the worker of a started call and starts a new one
                result.record_timeout(specs[k], started=started, message=_deadline_message(started))
            else:  # it ended in between
                result.record(i, k, specs[k], future)
        for _, k in waiting:
            result.record_timeout(specs[k], started=False, message=_deadline_message(False))
        return result

    def close(self) -> None:
        self._calls.close()

    def __enter__(self) -> RewardPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _deadline_message(started: bool) -> str:
    if started:
        return "still running at the step's scoring deadline (reward_step_timeout_s)"
    return "not started by the step's scoring deadline (reward_step_timeout_s): other calls held the workers"


def _passed(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class RewardHangError(RewardConfigError):
    """A reward function did nothing but time out for several steps in a row: the run stops (CLI exit 2)."""


@dataclass
class FailureRecord:
    """One reward function's failures over a run, as the run summary shows them."""

    errors: int = 0
    timeouts: int = 0
    first: str = ""  #: the first error or timeout message, e.g. "TypeError: ..."
    step: int = 0  #: the step it happened in


class RewardWatch:
    """Follows the reward functions across a run: each one's failures (the first is shown to the user, the
    totals go into the run summary), and a stop when one does nothing but time out.

    A function "only timed out" in a step when calls of it timed out after they had started and none of its
    calls finished (returned or raised). After `max_timeout_steps` such steps in a row `raise_if_hung` stops
    the run, instead of paying the scoring deadline every step for rewards that are all 0 (0 = never stop).
    Calls cancelled before they started say nothing about their function (another one held the workers):
    they neither count nor reset."""

    def __init__(self, specs: list[RewardSpec], max_timeout_steps: int = 3) -> None:
        self.specs = {s.name: s for s in specs}
        self.max_timeout_steps = max_timeout_steps
        self.failures: dict[str, FailureRecord] = {}
        self.timeout_steps = dict.fromkeys(self.specs, 0)  # steps in a row that only timed out
        self._step: int | None = None
        self._finished_this_step: set[str] = set()
        self._counted_this_step: set[str] = set()

    def record(self, step: int, result: ScoreResult) -> list[str]:
        """Add one scoring round of `step` (resampling can make several); returns the functions that failed
        for the first time in the run."""
        if step != self._step:
            self._step, self._finished_this_step, self._counted_this_step = step, set(), set()
        new = []
        for name in self.specs:
            errors, timeouts = result.errors.get(name, 0), result.timeouts.get(name, 0)
            if errors or timeouts:
                if name not in self.failures:
                    self.failures[name] = FailureRecord(first=result.first_failure.get(name, ""), step=step)
                    new.append(name)
                self.failures[name].errors += errors
                self.failures[name].timeouts += timeouts
            if result.finished.get(name, 0):
                self._finished_this_step.add(name)
                self.timeout_steps[name] = 0
            elif result.hung.get(name, 0) and name not in self._finished_this_step | self._counted_this_step:
                self._counted_this_step.add(name)
                self.timeout_steps[name] += 1
        return new

    def raise_if_hung(self) -> None:
        """RewardHangError naming the first function that only timed out for `max_timeout_steps` steps."""
        if self.max_timeout_steps <= 0:
            return
        for name, steps in self.timeout_steps.items():
            if steps >= self.max_timeout_steps:
                spec = self.specs[name]
                raise RewardHangError(
                    f"reward.{name}: every call of {spec.fn} that ran timed out, {steps} steps in a row (limits: "
                    f"reward.{name}.timeout_s={spec.timeout_s:g} per call, reward_step_timeout_s per step); fix "
                    f"the function, raise a limit, or turn it off with reward.{name}=null"
                )

    def summary(self) -> dict[str, dict[str, Any]]:
        """{name: {"errors", "timeouts", "first", "step"}} for every function that failed at least once."""
        return {name: asdict(record) for name, record in self.failures.items()}

    def load(self, summary: dict[str, dict[str, Any]]) -> None:
        """Continue the totals of a resumed run (its first failures were shown when they happened)."""
        self.failures = {name: FailureRecord(**record) for name, record in summary.items()}
