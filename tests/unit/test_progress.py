"""The per-step progress line: printed once per training step where no live bar can show (CI logs, nohup,
`| tee`), with the last held-out accuracy and an ETA from the wall clock between steps, evaluations included."""

import io

from rich.console import Console

from rlvr.tracking import StepProgress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_line_per_training_step_when_stderr_is_not_a_terminal():
    out = io.StringIO()
    clock = Clock()
    progress = StepProgress(Console(file=out, force_terminal=False, width=200), total=10, clock=clock)
    assert not progress.live
    progress.update(0, {"eval/accuracy": 0.25})  # evaluation before training: no line, but remembered
    progress.update(1, {"reward/mean": 0.5, "time/step_s": 2.0})  # first step: its own time
    clock.now += 4.0  # the second step took 4 s
    progress.update(2, {"reward/mean": 0.625, "time/step_s": 4.0})
    clock.now += 12.0  # the third step ran an evaluation too: 12 s of wall clock, whatever step_s says
    progress.update(3, {"reward/mean": 0.75, "time/step_s": 3.0, "eval/accuracy": 0.5})
    progress.stop()
    lines = out.getvalue().splitlines()
    # by hand: means over the steps so far: 2; (2 + 4) / 2 = 3; (2 + 4 + 12) / 3 = 6; eta = mean x steps left
    assert lines == [
        "step 1/10 · reward 0.500 · acc 25.0% · 2.00 s/step · eta 0m18s",
        "step 2/10 · reward 0.625 · acc 25.0% · 3.00 s/step · eta 0m24s",
        "step 3/10 · reward 0.750 · acc 50.0% · 6.00 s/step · eta 0m42s",
    ]


def test_a_terminal_gets_the_live_bar_and_no_printed_lines():
    out = io.StringIO()
    progress = StepProgress(Console(file=out, force_terminal=True, width=200), total=3)
    assert progress.live
    progress.update(1, {"reward/mean": 0.5, "time/step_s": 1.0})
    progress.stop()
    assert "step 1/3 ·" not in out.getvalue()
