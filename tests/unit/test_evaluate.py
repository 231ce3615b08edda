"""The evaluation harness on MATH-500 with fake "models": gold solutions score 100%, shuffled ones about 0%.
A test of the harness and the grader on every real MATH-500 solution, not of a model."""

import random

import pytest

from rewards.math import math_accuracy
from rlvr.config import DataConfig
from rlvr.data import load_samples
from rlvr.evaluate import evaluate, majority_correct, pass_at_k
from rlvr.rollout.base import SamplingParams
from rlvr.types import Rollout, Sample
from tests.conftest import MATH500


class ScriptedEngine:
    """A RolloutEngine whose completions are given: `answer_for(sample, i)` is the i-th completion."""

    weight_version = 0

    def __init__(self, answer_for):
        self.answer_for = answer_for

    def generate(self, samples, params):
        return [
            [Rollout(s, [1], [2] * 7, self.answer_for(s, i), [-0.1] * 7, "stop") for i in range(params.n)]
            for s in samples
        ]


def scorer(completions, samples):
    return [math_accuracy(c, s.for_reward()) for c, s in zip(completions, samples, strict=True)]


@pytest.fixture(scope="module")
def math500():
    return load_samples(DataConfig(path=str(MATH500), id_key="unique_id", shuffle=False))


def test_gold_solutions_score_100_percent(math500):
    result = evaluate(ScriptedEngine(lambda s, i: s.metadata["solution"]), math500, SamplingParams(n=1), scorer)
    assert result.n_problems == 500 and result.accuracy == 1.0
    assert result.no_answer == 0.0 and result.mean_length == 7
    assert len(result.by_subject) == 7 and all(v == 1.0 for v in result.by_subject.values())
    assert set(result.by_level) == {"1", "2", "3", "4", "5"}


def test_shuffled_solutions_score_about_zero(math500):
    solutions = [s.metadata["solution"] for s in math500]
    random.Random(0).shuffle(solutions)
    by_id = {s.id: sol for s, sol in zip(math500, solutions, strict=True)}
    result = evaluate(ScriptedEngine(lambda s, i: by_id[s.id]), math500, SamplingParams(n=1), scorer)
    assert result.accuracy < 0.03  # only coincidences (two problems whose answer is 2, say)


def test_sampled_metrics_with_a_two_of_four_model(math500):
    # completions 0 and 2 are right, 1 and 3 wrong (and 3 has no answer at all)
    def answer(s, i):
        return {0: f"\\boxed{{{s.answer}}}", 1: "\\boxed{wrong}", 2: f"so \\boxed{{{s.answer}}}", 3: "no idea"}[i]

    result = evaluate(ScriptedEngine(answer), math500[:20], SamplingParams(n=4, temperature=1.0), scorer)
    assert result.accuracy == pytest.approx(0.5)
    assert result.pass_at[1] == pytest.approx(0.5)
    assert result.pass_at[2] == pytest.approx(1 - 1 / 6)  # 1 - C(2,2)/C(4,2)
    assert result.pass_at[4] == pytest.approx(1.0)
    assert result.maj_at[4] == pytest.approx(1.0)  # the gold answer has two votes, "wrong" one
    assert result.no_answer == pytest.approx(0.25)


def test_pass_at_k_by_hand():
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # 1 - C(3,2)/C(5,2)
    assert pass_at_k(5, 0, 3) == 0.0 and pass_at_k(5, 4, 2) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_majority_vote():
    assert majority_correct(["1", "2", "2"], [True, False, False]) is False
    assert majority_correct(["1", "2", "1"], [True, False, True]) is True
    assert majority_correct([None, None], [False, False]) is False


def test_pass_at_k_is_reported_for_every_promised_k(math500):
    # n=3: completions 0 and 2 right, 1 wrong; k = 1, 2 and n itself (3), not only powers of two
    def answer(s, i):
        return f"\\boxed{{{s.answer}}}" if i != 1 else "\\boxed{wrong}"

    result = evaluate(ScriptedEngine(answer), math500[:10], SamplingParams(n=3, temperature=1.0), scorer)
    assert sorted(result.pass_at) == [1, 2, 3] and sorted(result.maj_at) == [1, 2, 3]
    assert result.pass_at[2] == pytest.approx(1.0)  # 1 - C(1,2)/C(3,2) = 1 (one wrong answer cannot fill 2 slots)
    assert result.pass_at[1] == pytest.approx(2 / 3)
    chosen = evaluate(ScriptedEngine(answer), math500[:10], SamplingParams(n=3, temperature=1.0), scorer, ks=[2])
    assert sorted(chosen.pass_at) == [2]
    with pytest.raises(ValueError, match="k <= n"):
        evaluate(ScriptedEngine(answer), math500[:10], SamplingParams(n=3, temperature=1.0), scorer, ks=[4])


def test_lenient_accuracy_grades_the_last_number_only_when_nothing_is_boxed():
    # by hand: 4 problems; boxed right, boxed wrong (its right last number must not count), unboxed with the
    # right last number, unboxed with a wrong one -> strict 1/4, lenient 2/4
    samples = [Sample(id=str(i), prompt=f"q{i}", answer="12") for i in range(4)]
    text = {
        "0": "5 + 7 = 12.\n\\boxed{12}",
        "1": "\\boxed{13} or 12",
        "2": "5 + 7 = 12. The answer is 12.",
        "3": "The answer is 11.",
    }

    def lenient(completions, rows):
        pairs = zip(completions, rows, strict=True)
        return [math_accuracy(c, s.for_reward(), fallback_last_number=True) for c, s in pairs]

    engine = ScriptedEngine(lambda s, i: text[s.id])
    result = evaluate(engine, samples, SamplingParams(n=1), scorer, lenient_scorer=lenient)
    assert result.accuracy == 0.25 and result.lenient_accuracy == 0.5
    assert result.metrics()["eval/lenient_accuracy"] == 0.5
    assert result.no_answer == 0.5  # strict extraction: two completions box nothing
    fallback = evaluate(engine, samples, SamplingParams(n=1), lenient, fallback_last_number=True)
    assert fallback.no_answer == 0.0 and fallback.lenient_accuracy is None  # answers taken as the scorer took them


def test_evaluation_grades_with_the_settings_of_the_training_entry_of_the_same_function():
    from rlvr.config import compose
    from rlvr.evaluate import eval_spec, grading_of

    cfg = compose(["experiment=tiny_code"])
    cfg.reward = {"code_pass_rate": {"allow_unsandboxed": True, "timeout_s": 30.0}}  # fn defaults to the name
    spec = eval_spec(cfg, fallback_unfenced=True)
    assert (spec.fn, spec.timeout_s) == ("code_pass_rate", 30.0)
    assert spec.kwargs == {"allow_unsandboxed": True, "fallback_unfenced": True}
    cfg.reward = {"math": "math_accuracy"}  # no entry of the evaluation's function: its defaults
    assert eval_spec(cfg).kwargs == {}
    # one function under two names: one grading
    assert grading_of("rewards.code:code_pass_rate") is grading_of("code_pass_rate")
    assert grading_of("code_pass_rate").lenient_kwarg == "fallback_unfenced"
