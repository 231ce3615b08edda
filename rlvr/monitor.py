"""Collapse signals, computed every step, and the rules that trigger a rollback.

Each rule looks at this step's metrics against the history of healthy steps before it and counts
consecutive violations; it fires when the count reaches its patience. Thresholds and patience live in
`MonitorConfig` (rlvr/config.py), with defaults that stay silent on a healthy but noisy run.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlvr.config import MonitorConfig, RuleConfig

TRACKED = (
    "reward/mean",
    "learn/loss",
    "learn/grad_norm",
    "learn/entropy",
    "learn/update_kl",
    "learn/kl",
    "rollout/truncated_frac",
    "learn/nonfinite_grads",
)


@dataclass
class Verdict:
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


class Monitor:
    """Feed it each step's metrics; it answers with the rule that fired, or None."""

    def __init__(self, cfg: MonitorConfig) -> None:
        self.cfg = cfg
        self.history: list[dict[str, float]] = []  # tracked metrics of the steps that passed
        self.strikes: dict[str, int] = {}
        self.best_average: dict[str, float] = {}
        self.format_keys = [f"reward/{name}/mean" for name in cfg.format_rewards]

    # ---- the signals ---------------------------------------------------------------------------------
    def _series(self, key: str) -> list[float]:
        return [h[key] for h in self.history if _finite(h.get(key))]

    def _median(self, key: str) -> float | None:
        series = self._series(key)[-self.cfg.window :]
        return statistics.median(series) if len(series) >= self.cfg.warmup else None

    def _moving_average(self, key: str, value: float) -> float:
        recent = [*self._series(key)[-(self.cfg.average - 1) :], value] if self.cfg.average > 1 else [value]
        return sum(recent) / len(recent)

    def _nan(self, m: dict[str, Any]) -> str | None:
        loss = m.get("learn/loss")
        if m.get("learn/nonfinite_grads", 0) > 0:
            return "non-finite gradients"
        if loss is not None and not _finite(loss):
            return f"loss is {loss}"
        return None

    def _spike(self, m: dict[str, Any], key: str, rule: RuleConfig) -> str | None:
        """Value above factor x its running median."""
        value, median = m.get(key), self._median(key)
        if _finite(value) and median is not None and median > 0 and value > rule.factor * median:
            return f"{key} {value:.4g} > {rule.factor:g} x running median {median:.4g}"
        return None

    def _drop(self, m: dict[str, Any], key: str, rule: RuleConfig) -> str | None:
        """Moving average below (1 - threshold) x the best moving average seen (once the best is >= factor)."""
        value = m.get(key)
        if not _finite(value):
            return None
        average = self._moving_average(key, value)
        best = self.best_average.get(key)
        if best is not None and best >= rule.factor and average < (1 - rule.threshold) * best:
            return f"{key} average {average:.3f} fell below {1 - rule.threshold:.0%} of its best {best:.3f}"
        return None

    def _checks(self, m: dict[str, Any]) -> list[tuple[str, RuleConfig, Callable[[], str | None]]]:
        c = self.cfg
        kl_key = "learn/kl" if _finite(m.get("learn/kl")) else "learn/update_kl"

        def kl() -> str | None:
            value = m.get(kl_key)
            if _finite(value) and value > c.kl_spike.threshold:
                return f"{kl_key} {value:.4g} > {c.kl_spike.threshold:g}"
            return self._spike(m, kl_key, c.kl_spike)

        def entropy_low() -> str | None:
            value = m.get("learn/entropy")
            threshold = c.entropy_collapse.threshold
            return f"entropy {value:.2e} < {threshold:g}" if _finite(value) and value < threshold else None

        def runaway() -> str | None:
            value = m.get("rollout/truncated_frac")
            threshold = c.length_runaway.threshold
            return f"{value:.0%} of rollouts hit max_tokens" if _finite(value) and value > threshold else None

        checks = [
            ("nan", c.nan, lambda: self._nan(m)),
            ("grad_norm_spike", c.grad_norm_spike, lambda: self._spike(m, "learn/grad_norm", c.grad_norm_spike)),
            ("reward_drop", c.reward_drop, lambda: self._drop(m, "reward/mean", c.reward_drop)),
            ("entropy_collapse", c.entropy_collapse, entropy_low),
            ("entropy_blowup", c.entropy_blowup, lambda: self._spike(m, "learn/entropy", c.entropy_blowup)),
            ("kl_spike", c.kl_spike, kl),
            ("length_runaway", c.length_runaway, runaway),
        ]
        for name, key in zip(c.format_rewards, self.format_keys, strict=True):
            if key in m:
                check = lambda k=key: self._drop(m, k, c.format_collapse)  # noqa: E731
                checks.append((f"format_collapse[{name}]", c.format_collapse, check))
        return checks

    # ---- the verdict ---------------------------------------------------------------------------------
    def observe(self, metrics: dict[str, Any]) -> Verdict | None:
        """Check one step. A step that fires nothing (or only strikes below patience) joins the history."""
        if not self.cfg.enabled:
            return None
        fired = None
        for name, rule, check in self._checks(metrics):
            if not rule.enabled:
                continue
            detail = check()
            self.strikes[name] = self.strikes.get(name, 0) + 1 if detail else 0
            if detail and self.strikes[name] >= rule.patience and fired is None:
                fired = Verdict(name, detail)
        if fired is None:
            keys = [*TRACKED, *self.format_keys]
            record = {k: float(metrics[k]) for k in keys if _finite(metrics.get(k))}
            self.history.append(record)
            for key in ("reward/mean", *self.format_keys):
                recent = self._series(key)[-self.cfg.average :]
                if key in record and len(recent) == self.cfg.average:
                    average = sum(recent) / self.cfg.average
                    self.best_average[key] = max(self.best_average.get(key, average), average)
        return fired

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history), "strikes": dict(self.strikes), "best_average": dict(self.best_average)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state["history"])
        self.strikes = dict(state["strikes"])
        self.best_average = dict(state["best_average"])
