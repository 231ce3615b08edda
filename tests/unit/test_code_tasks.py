"""The code demo's world: every task's correct line passes its tests in the real sandbox and every typical
mistake fails one; a code build's held-out tasks are new to the model by identity, and the audit can tell when
they are not."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from rewards import sandbox
from rewards.code import code_pass_rate
from rlvr.tiny import code_tasks
from tests.conftest import ROOT, require, run_cli

require("bwrap", sandbox.bwrap_path() is not None, "apt-get install bubblewrap")
SCRIPT = ROOT / "scripts" / "check_contamination.py"


def fenced(code: str) -> str:
    return f"Here is the function.\n```python\n{code}\n```"


@pytest.mark.parametrize("family", sorted(code_tasks.FAMILIES))
def test_the_right_line_passes_and_every_mistake_fails_in_the_sandbox(family):
    for k in (2, 13, 20):  # the smallest and largest constants, and one between
        task = code_tasks.Task(family, k, "solve")
        sample = {"tests": task.tests()}
        score, info = code_pass_rate(fenced(task.code()), sample)
        assert score == 1.0, (task.question, task.code(), info)
        for bug in range(len(code_tasks.FAMILIES[family].bugs)):
            score, info = code_pass_rate(fenced(task.code(bug)), sample)
            assert score < 1.0, (task.question, task.code(bug), info)
        assert code_pass_rate(task.code(), sample)[0] == 0.0  # not fenced: nothing runs


def test_tests_are_written_by_hand_for_one_task_of_each_kind():
    """Expected values written here by hand, not by the families' semantics."""
    assert code_tasks.Task("add", 7, "f").tests() == ["assert f(0) == 7", "assert f(3) == 10", "assert f(10) == 17"]
    assert code_tasks.Task("greater", 5, "g").tests() == [
        "assert g(5) == False",
        "assert g(6) == True",
        "assert g(0) == False",
    ]
    assert code_tasks.Task("repeat", 3, "r").tests() == [
        "assert r('ab') == 'ababab'",
        "assert r('x') == 'xxx'",
        "assert r('hello') == 'hellohellohello'",
    ]


@pytest.fixture(scope="module")
def code_build(tmp_path_factory):
    """A small code build through `rlvr make-tiny --kind code` (a short pretraining: the files are what count)."""
    out = tmp_path_factory.mktemp("code") / "tiny-code"
    cmd = [sys.executable, "-c", (
        "import sys; from pathlib import Path; from rlvr.tiny.pretrain import TinyBaseSpec, pretrain; "
        "pretrain(TinyBaseSpec.code(num_layers=1, n_documents=2000, n_train=100), Path(sys.argv[1]), log=lambda *a: 0)"
    ), str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=ROOT)
    return out


def audit(model_dir):
    return subprocess.run([sys.executable, str(SCRIPT), str(model_dir)], capture_output=True, text=True)


def test_a_code_build_is_clean_and_its_rows_say_what_they_are(code_build):
    done = audit(code_build)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "50 held-out tasks against 100 RL train tasks and 2000 pretraining documents: clean" in done.stdout
    rows = [json.loads(line) for line in (code_build / "heldout.jsonl").read_text().splitlines()]
    assert len({(r["family"], r["k"]) for r in rows}) == 50 and all(len(r["tests"]) == 3 for r in rows)
    text = (code_build / "pretrain.txt").read_text()
    assert "```python" in text and "\ndef " in text  # fenced and bare solutions both appear


@pytest.fixture
def copy(code_build, tmp_path):
    for name in ("heldout.jsonl", "train.jsonl", "pretrain.txt", "tokenizer_config.json"):
        shutil.copy(code_build / name, tmp_path / name)
    return tmp_path


def heldout_task(model_dir) -> code_tasks.Task:
    row = json.loads((model_dir / "heldout.jsonl").read_text().splitlines()[0])
    return code_tasks.Task(row["family"], row["k"], "another_name")


def plant(model_dir, text):
    with (model_dir / "pretrain.txt").open("a") as f:
        f.write(text + "\n<|endoftext|>\n")


def test_a_heldout_task_described_under_another_name_is_caught(copy):
    plant(copy, f"Task:\n{heldout_task(copy).question}\n\nSolution:\nI do not know.")
    done = audit(copy)
    assert done.returncode == 1 and "heldout_tasks_described_in_pretraining: 1" in done.stdout, done.stdout


def test_a_heldout_tasks_right_line_anywhere_is_caught(copy):
    plant(copy, f"Some code:\n{heldout_task(copy).code()}")  # e.g. as another task's mistake
    done = audit(copy)
    assert done.returncode == 1 and "heldout_tasks_solved_in_pretraining: 1" in done.stdout, done.stdout


def test_a_heldout_task_in_the_train_set_is_caught(copy):
    row = {**json.loads((copy / "heldout.jsonl").read_text().splitlines()[0]), "id": "train-planted"}
    with (copy / "train.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")
    done = audit(copy)
    assert done.returncode == 1 and "heldout_tasks_in_train: 1: train-planted" in done.stdout, done.stdout


def test_the_code_demo_recipe_runs_two_steps_through_the_sandbox(code_build, tmp_path):
    """experiment=tiny_code on the small build: the code reward through bubblewrap, evaluation graded with
    code_pass_rate (the reason of each verdict logged with the completions)."""
    run_dir = tmp_path / "run"
    proc = run_cli(
        "train", "experiment=tiny_code", f"model.path={code_build}", f"data.path={code_build / 'train.jsonl'}",
        f"eval.data.path={code_build / 'heldout.jsonl'}", f"run_dir={run_dir}", "steps=2", "prompts_per_step=2",
        "rollout.group_size=4", "eval.data.limit=6", "tracking.wandb=disabled", "tracking.progress=false",
        "tracking.plots=false", "monitor.enabled=false",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert 0.0 <= summary["accuracy_before"] <= summary["lenient_accuracy_before"] <= 1.0  # bare code graded too
    assert "pass rate (fenced)" in proc.stdout and "lenient (bare code too)" in proc.stdout
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 2 * 4
    for row in rows:
        info = row["reward_infos"]["code"]
        assert info["total"] == 3 and row["rewards"]["code"] == info["passed"] / 3
