"""Reward functions for tests, loaded by file path exactly as a user's own would be (`reward.custom=...`)."""

import os
import time


def starts_with_digit(completion: str, sample: dict, **_) -> float:
    """Binary and about 50/50 on the tiny model: nearly every group has variance."""
    return 1.0 if completion.strip()[:1].isdigit() else 0.0


def digit_fraction(completion: str, sample: dict, **_) -> float:
    """A continuous reward in [0, 1]."""
    text = completion.strip()
    return sum(ch.isdigit() for ch in text) / max(1, len(text))


def always_raises(completion: str, sample: dict, **_) -> float:
    raise RuntimeError("this reward function is broken")


def hangs(completion: str, sample: dict, **_) -> float:
    while True:
        time.sleep(0.01)


def returns_nan(completion: str, sample: dict, **_) -> float:
    return float("nan")


def returns_text(completion: str, sample: dict, **_):
    return "high"


def exits_worker(completion: str, sample: dict, **_) -> float:
    os._exit(3)


def with_info(completion: str, sample: dict, *, bonus: float = 0.0, **_):
    return 0.5 + bonus, {"length": len(completion)}


def flaky_after_calls(completion: str, sample: dict, *, counter_file: str, start: int, stop: int, **_) -> float:
    """boxed_format, except that calls number start..stop-1 (counted across worker processes) return 0:
    a verifier that breaks for a while, the way an external service does."""
    import fcntl

    from rewards.format import boxed_format

    with open(counter_file, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        calls = int(f.read() or 0)
        f.seek(0)
        f.truncate()
        f.write(str(calls + 1))
    return 0.0 if start <= calls < stop else boxed_format(completion)


def returns(completion: str, sample: dict, *, kind: str, **_):
    """The value 0.5 (or True/1 for the bool and integer kinds) as the type named by `kind`, the way reward code
    built on numpy or torch returns it; plus values that are not one finite number."""
    import numpy as np

    if kind.startswith("torch"):
        import torch

        return (torch.tensor(0.5) if kind == "torch_scalar" else torch.tensor([0.5, 0.5])), {"kind": kind}
    values = {
        "np.float32": np.float32(0.5),
        "np.float16": np.float16(0.5),
        "np.int64": np.int64(1),
        "np.bool_": np.bool_(True),
        "np.0d_array": np.array(0.5),
        "fraction": __import__("fractions").Fraction(1, 2),
        "decimal": __import__("decimal").Decimal("0.5"),
        "np.float32_nan": np.float32("nan"),
        "np.float64_inf": np.float64("inf"),
        "str": "0.5",
        "bytes": b"0.5",
        "none": None,
        "list": [0.5],
        "complex": 0.5 + 0j,
    }
    return values[kind], {"kind": kind}


def completion_only(completion: str) -> float:
    """Wrong signature: the pool calls fn(completion, sample, **kwargs)."""
    return 1.0


def no_keywords(completion: str, sample: dict) -> float:
    """Fine without kwargs; a recipe entry with extra keys cannot call it."""
    return 1.0


def needs_threshold(completion: str, sample: dict, *, threshold: float) -> float:
    """A required keyword the recipe entry must give."""
    return float(len(completion) > threshold)


def hangs_noting_pid(completion: str, sample: dict, *, pid_dir: str, **_) -> float:
    """Hangs after leaving its worker's pid in `pid_dir`, so a test can check the worker was killed."""
    with open(os.path.join(pid_dir, str(os.getpid())), "w"):
        pass
    while True:
        time.sleep(0.01)
