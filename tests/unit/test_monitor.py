"""Each collapse rule on synthetic metric streams, with the step it must fire at worked out by hand."""

import math

from rlvr.config import MonitorConfig, RuleConfig
from rlvr.monitor import Monitor

HEALTHY = {"reward/mean": 0.6, "learn/loss": 0.01, "learn/grad_norm": 1.0, "learn/entropy": 0.5,
           "learn/update_kl": 0.001, "rollout/truncated_frac": 0.0, "learn/nonfinite_grads": 0.0}  # fmt: skip


def feed(monitor: Monitor, stream: list[dict]) -> list:
    return [monitor.observe({**HEALTHY, **m}) for m in stream]


def first_fire(verdicts) -> tuple[int, str] | None:
    for i, v in enumerate(verdicts):
        if v is not None:
            return i, v.rule
    return None


def test_healthy_noisy_run_never_fires():
    stream = [{"reward/mean": 0.3 + 0.4 * (i % 3) / 2, "learn/grad_norm": 0.5 + (i % 4) * 0.5} for i in range(60)]
    assert first_fire(feed(Monitor(MonitorConfig()), stream)) is None


def test_nan_fires_at_once():
    stream = [{}] * 3 + [{"learn/loss": math.nan}]
    assert first_fire(feed(Monitor(MonitorConfig()), stream)) == (3, "nan")
    stream = [{}] * 3 + [{"learn/nonfinite_grads": 1.0}]
    assert first_fire(feed(Monitor(MonitorConfig()), stream)) == (3, "nan")


def test_grad_norm_spike_needs_warmup_then_fires():
    # warmup 5: steps 0-4 build the median (1.0); step 5 at 11 > 10 x 1.0 fires; a spike before warmup does not
    stream = [{"learn/grad_norm": 50.0}] + [{}] * 5 + [{"learn/grad_norm": 11.0}]
    assert first_fire(feed(Monitor(MonitorConfig()), stream)) == (6, "grad_norm_spike")


def test_reward_drop_with_patience():
    # best 3-step average 0.6; rewards drop to 0 from step 6: averages (0.6+0.6+0)/3=0.4 (ok, >= 0.3),
    # (0.6+0+0)/3=0.2 (strike 1, step 7), 0 (strike 2, step 8), 0 (strike 3 = patience, step 9)
    stream = [{}] * 6 + [{"reward/mean": 0.0}] * 5
    assert first_fire(feed(Monitor(MonitorConfig()), stream)) == (9, "reward_drop")


def test_reward_drop_ignores_low_rewards():
    # the best average 0.05 is below min_best (factor 0.1): noise at the floor is not a collapse
    stream = [{"reward/mean": 0.05}] * 6 + [{"reward/mean": 0.0}] * 6
    assert first_fire(feed(Monitor(MonitorConfig()), stream)) is None


def test_entropy_collapse_and_blowup():
    stream = [{}] * 5 + [{"learn/entropy": 1e-5}] * 3
    assert first_fire(feed(Monitor(MonitorConfig()), stream)) == (7, "entropy_collapse")
    stream = [{}] * 5 + [{"learn/entropy": 2.5}] * 2  # > 4 x median 0.5, patience 2
    assert first_fire(feed(Monitor(MonitorConfig()), stream)) == (6, "entropy_blowup")


def test_kl_spike_absolute_and_relative():
    assert first_fire(feed(Monitor(MonitorConfig()), [{}, {"learn/update_kl": 1.5}])) == (1, "kl_spike")
    stream = [{}] * 5 + [{"learn/update_kl": 0.06}]  # 60 x the median 0.001 > factor 50
    assert first_fire(feed(Monitor(MonitorConfig()), stream)) == (5, "kl_spike")
    # with a reference model the reference KL is the one watched
    stream = [{"learn/kl": 0.01}] * 5 + [{"learn/kl": 2.0, "learn/update_kl": 0.001}]
    assert first_fire(feed(Monitor(MonitorConfig()), stream)) == (5, "kl_spike")


def test_length_runaway():
    stream = [{}] * 2 + [{"rollout/truncated_frac": 0.9}] * 3
    assert first_fire(feed(Monitor(MonitorConfig()), stream)) == (4, "length_runaway")


def test_format_collapse_watches_format_rewards():
    stream = [{"reward/format/mean": 0.9}] * 5 + [{"reward/format/mean": 0.0}] * 4
    # averages from step 5: (0.9+0.9+0)/3=0.6 ok (>= 0.45), 0.3 strike 1 (step 6), 0 strike 2, 0 strike 3 (step 8)
    assert first_fire(feed(Monitor(MonitorConfig()), stream)) == (8, "format_collapse[format]")


def test_disabled_rules_and_monitor():
    cfg = MonitorConfig(nan=RuleConfig(enabled=False))
    assert first_fire(feed(Monitor(cfg), [{"learn/loss": math.nan}])) is None
    assert first_fire(feed(Monitor(MonitorConfig(enabled=False)), [{"learn/loss": math.nan}])) is None


def test_state_round_trip_resumes_the_same_judgement():
    a = Monitor(MonitorConfig())
    feed(a, [{}] * 6 + [{"reward/mean": 0.0}] * 2)
    b = Monitor(MonitorConfig())
    b.load_state_dict(a.state_dict())
    assert first_fire(feed(a, [{"reward/mean": 0.0}] * 2)) == first_fire(feed(b, [{"reward/mean": 0.0}] * 2))
