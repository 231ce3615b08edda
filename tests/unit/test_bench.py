"""`rlvr bench`'s arithmetic on hand-written metrics rows."""

import pytest

from rlvr.bench import breakdown, summarize


def row(step_s, generate, score, learn, sync, idle=0.0, tokens=100.0, learned=80.0):
    return {
        "time/step_s": step_s, "time/generate_s": generate, "time/score_s": score, "time/learn_s": learn,
        "rollout/sync_s": sync, "time/learner_idle_s": idle, "rollout/tokens": tokens, "learn/tokens": learned,
    }  # fmt: skip


def test_a_step_splits_into_parts_that_add_up():
    # actors: the learner waited 0.4 s of its 0.5 s in generation, so 0.1 s of generation work is its own
    parts = breakdown(row(2.0, 0.5, 0.2, 1.0, 0.05, idle=0.4))
    assert parts == pytest.approx({"step": 2.0, "generate": 0.1, "score": 0.2, "learn": 1.0, "sync": 0.05,
                                   "idle": 0.4, "other": 0.25})  # fmt: skip


def test_medians_leave_out_the_first_step_and_events():
    rows = [row(9.0, 5, 1, 3, 0), {"step": 1, "event": "resume"}, row(1.0, 0.4, 0.1, 0.4, 0.0, tokens=200),
            row(3.0, 1.2, 0.3, 1.2, 0.0, tokens=300), row(2.0, 0.8, 0.2, 0.8, 0.0, tokens=100)]  # fmt: skip
    result = summarize(rows)
    assert result["steps_measured"] == 3
    assert result["seconds"]["step"] == 2.0 and result["seconds"]["learn"] == 0.8
    assert result["rollout_tokens_per_s"] == pytest.approx(100.0)  # 200/1, 300/3, 100/2 -> median 100
    assert result["learner_tokens_per_s"] == pytest.approx(100.0)  # 80/0.4, 80/1.2, 80/0.8 -> median 100
    with pytest.raises(ValueError, match="at least 2 steps"):
        summarize(rows[:1])


def test_overlap_compares_the_step_with_the_busier_side():
    # 2 actors, step 2.0 s: the learner waited 0.3 s (busy 1.7), the actors were idle 1.0 s together (0.5 each,
    # so each was busy 1.5 s): step / max(1.7, 1.5) = 2.0 / 1.7
    rows = [row(5.0, 1, 1, 1, 0), {**row(2.0, 0.4, 0.1, 1.2, 0.05, idle=0.3), "time/actor_idle_s": 1.0}]
    result = summarize(rows, actors=2)
    assert result["overlap"] == pytest.approx({"learner_busy": 1.7, "actor_busy": 1.5, "step_over_max": 2.0 / 1.7})
    assert "overlap" not in summarize([row(5.0, 1, 1, 1, 0), row(2.0, 1, 0.1, 0.8, 0)])  # no actors, no overlap


def test_weight_sync_is_reported_per_megabyte():
    # 10 MB in 0.02 s and 0.04 s (2 and 4 ms per MB) after the warm-up step: median 3 ms per MB
    rows = [row(5.0, 1, 1, 1, 1.0), {**row(2.0, 1, 0.1, 0.8, 0.02), "rollout/sync_mb": 10.0},
            {**row(2.0, 1, 0.1, 0.8, 0.04), "rollout/sync_mb": 10.0}]  # fmt: skip
    assert summarize(rows)["sync"] == pytest.approx({"mb": 10.0, "ms_per_mb": 3.0})
    assert "sync" not in summarize([row(5.0, 1, 1, 1, 0), row(2.0, 1, 0.1, 0.8, 0)])  # no engine elsewhere
