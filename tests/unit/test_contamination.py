"""The tiny model's held-out problems are new to it by identity, and the audit script can tell when they are not.

The audit (scripts/check_contamination.py) runs on the test model as `rlvr make-tiny` wrote it; then on copies
with one held-out problem planted where the model would have seen it (each must be caught).
"""

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "check_contamination.py"


def audit(model_dir):
    return subprocess.run([sys.executable, str(SCRIPT), str(model_dir)], capture_output=True, text=True)


@pytest.fixture
def copy(tiny_model_dir, tmp_path):
    for name in ("heldout.jsonl", "train.jsonl", "pretrain.txt", "tokenizer_config.json"):
        shutil.copy(tiny_model_dir / name, tmp_path / name)
    return tmp_path


def first_heldout(model_dir):
    return json.loads((model_dir / "heldout.jsonl").read_text().splitlines()[0])


def test_the_model_as_built_is_clean(tiny_model_dir):
    done = audit(tiny_model_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "40 held-out problems against 200 RL train problems and 3000 pretraining documents" in done.stdout
    rows = [json.loads(line) for line in (tiny_model_dir / "heldout.jsonl").read_text().splitlines()]
    assert all(row["kind"] and len(row["steps"]) == 2 for row in rows)  # every row says what it is


def plant(model_dir, text):
    with (model_dir / "pretrain.txt").open("a") as f:
        f.write(text + "\n<|endoftext|>\n")


def test_a_heldout_story_under_other_names_is_caught(copy):
    row = first_heldout(copy)
    from rlvr.tiny.problems import NAMES

    renamed = row["problem"]
    for name in NAMES:  # every name swapped for another: the same problem, other names
        renamed = renamed.replace(f"{name} ", f"{NAMES[(NAMES.index(name) + 5) % len(NAMES)]}~ ")
    plant(copy, "Q: " + renamed.replace("~", "") + "\nA: " + row["answer"])
    done = audit(copy)
    assert done.returncode == 1 and "heldout_stories_in_pretraining: 1" in done.stdout, done.stdout


def test_a_heldout_chain_on_a_drill_page_is_caught(copy):
    (a, op1, b, m), (_, op2, c, r) = first_heldout(copy)["steps"]
    plant(copy, f"3 + 4 = 7\n{a} {op1} {b} = {m}\n{m} {op2} {c} = {r}\n2 * 2 = 4")
    done = audit(copy)
    assert done.returncode == 1 and "heldout_chains_written_in_pretraining: 1" in done.stdout, done.stdout


def test_a_heldout_chain_in_the_train_set_is_caught(copy):
    row = {**first_heldout(copy), "id": "train-planted", "problem": "What is it?"}
    with (copy / "train.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")
    done = audit(copy)
    assert done.returncode == 1 and "heldout_chains_in_train: 1: train-planted" in done.stdout, done.stdout


def test_rows_without_their_identity_are_refused(copy):
    rows = [json.loads(line) for line in (copy / "heldout.jsonl").read_text().splitlines()]
    (copy / "heldout.jsonl").write_text("".join(json.dumps({"problem": r["problem"]}) + "\n" for r in rows))
    done = audit(copy)
    assert done.returncode == 2 and "rebuild with rlvr make-tiny" in done.stderr
