"""Reward functions crafted to steer a test: fixed values, or rewards that drive the policy somewhere on purpose.

Loaded by file path through `reward.custom=...` (or `+reward.NAME={fn: ...}`), exactly as a user's own would be.
The windowed ones count their calls across reward worker processes in a locked file: with P prompts of G
rollouts per step, calls (s - 1) P G ... s P G - 1 are step s of a run's first pass, and a rollback replays
steps at higher call numbers, so a window of calls is a transient event, as a real outage is.
"""

import fcntl


def stated_reward(completion: str, sample: dict, **_) -> float:
    """The number written after `reward=` in the completion: scripted rollouts choose their own reward."""
    return float(completion.rsplit("reward=", 1)[1])


def no_period(completion: str, sample: dict, **_) -> float:
    """The longer the completion, the better, and nothing for one that ends its sentence: with
    `rollout.stop=["."]` the best completions are those that run to max_tokens. Drives the policy to never
    stop (a runaway length). (Rewarding "no full stop" alone is not enough: a policy can earn it by stopping
    early at EOS.)"""
    text = completion.strip()
    return 0.0 if text.endswith(".") else min(1.0, len(text) / 40)


def writes_a_sentence(completion: str, sample: dict, **_) -> float:
    """A format reward: 1 for a completion with a full stop (3 in 4 of the test model's, none of a
    near-uniform policy's)."""
    return 1.0 if "." in completion else 0.0


def _starts_with_digit(completion: str) -> bool:
    return completion.strip()[:1].isdigit()


def _call_number(counter_file: str) -> int:
    """This call's number (0, 1, ...), counted across processes."""
    with open(counter_file, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        calls = int(f.read() or 0)
        f.seek(0)
        f.truncate()
        f.write(str(calls + 1))
    return calls


def digit_first_except_between(completion: str, sample: dict, *, counter_file: str, start: int, stop: int, **_):
    """1 for a completion that starts with a digit (about half of the test model's), except that calls
    start..stop-1 score 0: a verifier that breaks for a while."""
    broken = start <= _call_number(counter_file) < stop
    return 0.0 if broken else float(_starts_with_digit(completion))
