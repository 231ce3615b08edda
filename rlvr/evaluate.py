"""Held-out evaluation, in training and in `rlvr eval`: pass@1 (greedy), pass@k and maj@k (sampled),
breakdowns, lengths.

Correctness comes from a reward function of the same registry as training (`eval.reward`: `math_accuracy` by
default, `code_pass_rate` for code, any `module:fn` or `file.py:fn`), run through the same time-limited reward
pool with the training entry's settings when it has one, so a number printed here means what the training
reward meant; a completion is correct when it scores full marks (1.0: the right answer, every test passed).
Next to that strict accuracy (the boxed answer, the fenced code: what training rewards) a lenient one grades the
last number of a completion that boxes nothing, or its bare code when nothing is fenced: when RL raises both,
it improved the answers and not only their format.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import comb
from typing import Any

from rewards.code import extract_code
from rewards.math import extract_answer
from rewards.pool import RewardPool, RewardSpec
from rlvr.config import TrainConfig
from rlvr.rollout.base import RolloutEngine, SamplingParams
from rlvr.types import Sample

Scorer = Callable[[list[str], list[Sample]], list[float]]
AnswerOf = Callable[[str], "str | None"]


def _answer_of_math(fallback_last_number: bool) -> AnswerOf:
    return lambda completion: extract_answer(completion, fallback_last_number=fallback_last_number)


def _answer_of_code(fallback_unfenced: bool) -> AnswerOf:
    return lambda completion: extract_code(completion, fallback_unfenced=fallback_unfenced)


def _whole_completion(lenient: bool) -> AnswerOf:
    return lambda completion: completion.strip() or None


@dataclass(frozen=True)
class Grading:
    """How evaluation reads the completions one reward grades: their answer (no_answer counts the ones
    without, maj@k votes over them), the reward's keyword that grades leniently, and the table's labels."""

    answer_of: Callable[[bool], AnswerOf]  # lenient? -> the answer of a completion
    lenient_kwarg: str | None
    strict_label: str = "accuracy"
    lenient_label: str = "lenient"


GRADINGS: dict[str, Grading] = {
    "math_accuracy": Grading(_answer_of_math, "fallback_last_number", "accuracy (boxed)", "lenient (last number)"),
    "code_pass_rate": Grading(_answer_of_code, "fallback_unfenced", "pass rate (fenced)", "lenient (bare code too)"),
}
OTHER_GRADING = Grading(_whole_completion, None)  # any other reward: whole completions vote; no lenient figure


def grading_of(reward: str) -> Grading:
    """The grading of a reward reference, by the function it names (`math_accuracy` and
    `rewards.math:math_accuracy` are one function)."""
    from rewards.registry import resolve

    target = resolve(reward)
    return next((g for name, g in GRADINGS.items() if resolve(name) is target), OTHER_GRADING)


# A completion is correct when its reward gives full marks: math's 1.0, every unit test passed for code.
FULL_MARKS = 1.0


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def majority_correct(answers: Sequence[str | None], correct: Sequence[bool]) -> bool:
    """maj@k: is the most frequent extracted answer (ties: first seen) a correct one?"""
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return False
    top = max(votes.items(), key=lambda kv: (kv[1], -answers.index(kv[0])))[0]
    return correct[answers.index(top)]


@dataclass
class EvalResult:
    accuracy: float  # mean correctness over all samples (pass@1; greedy when n = 1)
    n_problems: int
    n_samples: int
    mean_length: float  # completion tokens
    no_answer: float  # fraction of completions with no extractable final answer
    truncated: float  # fraction that hit the token cap
    pass_at: dict[int, float] = field(default_factory=dict)
    maj_at: dict[int, float] = field(default_factory=dict)
    by_subject: dict[str, float] = field(default_factory=dict)
    by_level: dict[str, float] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    lenient_accuracy: float | None = None  # the same, grading the last number when nothing is boxed

    def metrics(self, prefix: str = "eval/") -> dict[str, float]:
        out = {
            f"{prefix}accuracy": self.accuracy,
            f"{prefix}length_mean": self.mean_length,
            f"{prefix}no_answer": self.no_answer,
            f"{prefix}truncated": self.truncated,
        }
        if self.lenient_accuracy is not None:
            out[f"{prefix}lenient_accuracy"] = self.lenient_accuracy
        out.update({f"{prefix}pass@{k}": v for k, v in self.pass_at.items()})
        out.update({f"{prefix}maj@{k}": v for k, v in self.maj_at.items()})
        return out

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "records"}
        out["pass_at"] = {str(k): v for k, v in self.pass_at.items()}
        out["maj_at"] = {str(k): v for k, v in self.maj_at.items()}
        return out


def default_ks(n: int) -> list[int]:
    """pass@k / maj@k reported by default: 1, the powers of two below n, and n itself (none when n = 1)."""
    return sorted({k for k in (2, 4, 8, 16, 32, 64, 128) if k < n} | {1, n}) if n > 1 else []


def _breakdown(records: list[dict[str, Any]], key: str) -> dict[str, float]:
    groups: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if r.get(key) is not None:
            groups[str(r[key])].append(r["accuracy"])
    return {k: sum(v) / len(v) for k, v in sorted(groups.items())}


def evaluate(
    engine: RolloutEngine,
    samples: list[Sample],
    params: SamplingParams,
    scorer: Scorer,
    *,
    batch_size: int = 64,
    ks: Sequence[int] | None = None,
    lenient_scorer: Scorer | None = None,
    fallback_last_number: bool = False,
    answer_of: AnswerOf | None = None,
) -> EvalResult:
    """Generate `params.n` completions per sample, grade them, and aggregate; pass@k and maj@k for every k
    in `ks` (default: `default_ks(params.n)`), each needing k <= n. `lenient_scorer` adds the lenient
    accuracy. `answer_of` reads a completion's answer for no_answer and maj@k (default: the boxed math answer,
    or the last number too with `fallback_last_number`, which says that `scorer` grades that way)."""
    answer_of = answer_of or _answer_of_math(fallback_last_number)
    ks = default_ks(params.n) if ks is None else sorted(set(ks))
    if any(not 1 <= k <= params.n for k in ks):
        raise ValueError(f"pass@k needs 1 <= k <= n={params.n}, got {list(ks)}")
    records: list[dict[str, Any]] = []
    lengths, no_answer, truncated = [], 0, 0
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        groups = engine.generate(chunk, params)
        flat = [r for g in groups for r in g]
        completions, rows = [r.completion for r in flat], [r.sample for r in flat]
        scores = scorer(completions, rows)
        lenient = lenient_scorer(completions, rows) if lenient_scorer not in (None, scorer) else scores
        for i, group in enumerate(groups):
            correct = [s >= FULL_MARKS for s in scores[i * params.n : (i + 1) * params.n]]
            lenient_correct = [s >= FULL_MARKS for s in lenient[i * params.n : (i + 1) * params.n]]
            answers = [answer_of(r.completion) for r in group]
            lengths += [len(r.completion_ids) for r in group]
            no_answer += sum(a is None for a in answers)
            truncated += sum(r.truncated for r in group)
            sample = group[0].sample
            records.append(
                {
                    "id": sample.id,
                    "subject": sample.metadata.get("subject"),
                    "level": sample.metadata.get("level"),
                    "gold": sample.answer,
                    "answers": answers,
                    "correct": correct,
                    "accuracy": sum(correct) / len(correct),
                    "lenient_accuracy": sum(lenient_correct) / len(lenient_correct),
                    "completion": group[0].completion,
                }
            )
    n_samples = len(lengths)
    return EvalResult(
        accuracy=sum(r["accuracy"] for r in records) / max(1, len(records)),
        n_problems=len(records),
        n_samples=n_samples,
        mean_length=sum(lengths) / max(1, n_samples),
        no_answer=no_answer / max(1, n_samples),
        truncated=truncated / max(1, n_samples),
        pass_at={k: sum(pass_at_k(params.n, sum(r["correct"]), k) for r in records) / len(records) for k in ks},
        maj_at={
            k: sum(majority_correct(r["answers"][:k], r["correct"][:k]) for r in records) / len(records) for k in ks
        },
        by_subject=_breakdown(records, "subject"),
        by_level=_breakdown(records, "level"),
        records=records,
        lenient_accuracy=(
            sum(r["lenient_accuracy"] for r in records) / max(1, len(records)) if lenient_scorer else None
        ),
    )


def eval_spec(cfg: TrainConfig, **extra: object) -> RewardSpec:
    """The reward spec evaluation grades with: `eval.reward`, with the settings (time limit, keyword
    arguments) of the training entry that uses the same function, if any, and `extra` keywords on top."""
    from rewards.registry import resolve

    ref = cfg.eval.reward
    target = resolve(ref)
    specs = [RewardSpec.from_entry(name, entry) for name, entry in cfg.reward.items() if entry is not None]
    same = [spec for spec in specs if resolve(spec.fn) is target]  # an entry's fn defaults to its name
    timeout_s, kwargs = (same[0].timeout_s, same[0].kwargs) if same else (RewardSpec("eval", ref).timeout_s, {})
    return RewardSpec(name=ref, fn=ref, timeout_s=timeout_s, kwargs={**kwargs, **extra})


def run_eval(cfg: TrainConfig, engine: RolloutEngine, pool: RewardPool, samples: list[Sample]) -> EvalResult:
    """Held-out evaluation with `eval.reward`, greedy unless configured: strict (what training rewards: the
    boxed answer, the fenced code; leniently too with `eval.fallback_last_number`) and, for a reward that has
    one, lenient (the last number when nothing is boxed, bare code when nothing is fenced)."""
    e = cfg.eval
    grading = grading_of(e.reward)

    def scorer_of(spec: RewardSpec) -> Scorer:
        def scorer(completions: list[str], rows: list[Sample]) -> list[float]:
            return [row[0] for row in pool.score(completions, [s.for_reward() for s in rows], specs=[spec]).rewards]

        return scorer

    def spec(lenient: bool) -> RewardSpec:
        return eval_spec(cfg, **({grading.lenient_kwarg: lenient} if grading.lenient_kwarg else {}))

    params = SamplingParams(
        n=e.n, temperature=e.temperature, top_p=e.top_p, max_tokens=e.max_tokens, stop=tuple(cfg.rollout.stop),
        seed=cfg.seed,
    )  # fmt: skip
    fallback = e.fallback_last_number and grading.lenient_kwarg is not None
    strict = scorer_of(spec(fallback))
    lenient = None
    if grading.lenient_kwarg:  # the same grading when strict already falls back: do not run it twice
        lenient = strict if fallback else scorer_of(spec(True))
    return evaluate(
        engine, samples, params, strict, batch_size=e.batch_size, ks=e.ks, lenient_scorer=lenient,
        answer_of=grading.answer_of(fallback),
    )  # fmt: skip
