"""One run directory, one run: resuming reads other runs and writes only its own, reuse is refused, and what
must survive a crash (rollbacks, wall clock) does."""

import json
import time
from pathlib import Path

import pytest

from rlvr.config import compose
from rlvr.errors import ConfigError
from rlvr.run import train
from tests.conftest import run_cli, tiny_overrides
from tests.helpers.files import tree_hash


def overrides(model_dir, run_dir, *extra):
    return tiny_overrides(
        model_dir, run_dir, "eval.before_training=false", "eval.after_training=false", "eval.every=0",
        "reward=[format]", *extra,
    )  # fmt: skip


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def source_run(tiny_model_dir, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("source")
    train(compose(overrides(tiny_model_dir, run_dir, "steps=3", "checkpoint.every=1", "checkpoint.keep=1")))
    return run_dir


def test_resuming_from_another_runs_checkpoint_writes_only_the_new_run(tiny_model_dir, tmp_path, source_run):
    before = tree_hash(source_run)
    checkpoint = source_run / "checkpoints" / "step_000003"
    new = tmp_path / "branch"
    extra = ("steps=5", "checkpoint.every=1", "checkpoint.keep=1", f"resume={checkpoint}")
    summary = train(compose(overrides(tiny_model_dir, new, *extra)))
    assert tree_hash(source_run) == before  # the source run is byte-identical: nothing written, pruned or deleted
    assert summary["run_dir"] == str(new) and summary["resumed_from"] == str(checkpoint.resolve())
    assert sorted(p.name for p in (new / "checkpoints").iterdir()) == ["step_000005"]
    assert [r["step"] for r in records(new) if "reward/mean" in r] == [4, 5]


def test_a_runs_weights_are_as_readable_as_its_other_files(source_run):
    """safetensors writes 0600; a run on a shared file system must be readable like its config beside it."""
    expected = (source_run / "config.yaml").stat().st_mode & 0o777
    weights = [
        source_run / "checkpoints" / "step_000003" / "model.safetensors",
        source_run / "model" / "model.safetensors",
    ]
    assert expected & 0o044 and all(p.stat().st_mode & 0o777 == expected for p in weights), [
        oct(p.stat().st_mode) for p in weights
    ]


def test_resume_from_a_checkpoint_inside_run_dir_is_refused(tiny_model_dir, source_run):
    inside = source_run / "checkpoints" / "step_000003"
    with pytest.raises(ConfigError, match="resume=auto"):
        train(compose(overrides(tiny_model_dir, source_run, f"resume={inside}")))


def test_reusing_a_run_dir_without_resume_is_refused_and_changes_nothing(tiny_model_dir, source_run):
    before = tree_hash(source_run)
    proc = run_cli("train", *overrides(tiny_model_dir, source_run, "steps=1"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    [line] = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert "already holds a run" in line and "overwrite=true" in line
    assert tree_hash(source_run) == before


def test_overwrite_clears_a_previous_run_first(tiny_model_dir, tmp_path):
    run_dir = tmp_path / "run"
    train(compose(overrides(tiny_model_dir, run_dir, "steps=2", "checkpoint.every=1")))
    summary = train(compose(overrides(tiny_model_dir, run_dir, "steps=1", "overwrite=true")))
    assert summary["steps"] == 1
    assert [r["step"] for r in records(run_dir) if "reward/mean" in r] == [1]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["step_000000", "step_000001"]


def test_overwrite_never_deletes_a_directory_that_is_not_a_run(tiny_model_dir, tmp_path):
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(ConfigError, match="does not look like an rlvr run"):
        train(compose(overrides(tiny_model_dir, tmp_path, "steps=1", "overwrite=true")))
    assert (tmp_path / "thesis.tex").read_text() == "years of work"


@pytest.mark.slow
def test_rollbacks_and_wall_clock_survive_a_crash_and_a_resume(tiny_model_dir, tmp_path):
    # Pass 1: NaN at step 7 rolls back to step 4 (rollback 1), then the process is killed in step 8, before
    # any checkpoint after the rollback: the newest checkpoint (step 4) predates the rollback.
    # Pass 2 (resume=auto): faults fire once per process, so step 7 fails again: that is rollback 2, over
    # max_rollbacks=1, and the run must stop (a run that forgot its rollbacks would go on to the end).
    extra = ("steps=10", "checkpoint.every=4", "monitor.max_rollbacks=1", "+fault.nan_at_step=7", "optim.lr=1e-3")
    start = time.monotonic()
    killed = run_cli("train", *overrides(tiny_model_dir, tmp_path, *extra, "+fault.kill_at_step=8"))
    first_s = time.monotonic() - start
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert [r["to_step"] for r in records(tmp_path) if r.get("event") == "rollback"] == [4]
    start = time.monotonic()
    resumed = run_cli("train", *overrides(tiny_model_dir, tmp_path, *extra, "resume=auto"))
    second_s = time.monotonic() - start
    assert resumed.returncode == 3, resumed.stderr[-2000:]
    assert "after 1 rollbacks" in resumed.stderr
    [resume] = [r for r in records(tmp_path) if r.get("event") == "resume"]
    assert resume["rollbacks"] == 1
    state = json.loads((tmp_path / "run_state.json").read_text())
    assert state["rollbacks"] == 2 and len(state["segments"]) == 2
    # the wall clock of each process is kept, the killed one's up to its last step (a segment starts after the
    # imports, so it is shorter than its process: by how much depends on the machine)
    (first, second) = [end - start for start, end in state["segments"]]
    assert 0 < first < first_s and 0 < second < second_s


def test_summary_wall_clock_sums_the_segments_of_a_resumed_run(tiny_model_dir, tmp_path):
    train(compose(overrides(tiny_model_dir, tmp_path, "steps=1", "checkpoint.every=1")))
    first = json.loads((tmp_path / "run_state.json").read_text())["segments"]
    summary = train(compose(overrides(tiny_model_dir, tmp_path, "steps=2", "checkpoint.every=1", "resume=auto")))
    second = json.loads((tmp_path / "run_state.json").read_text())["segments"]
    assert len(first) == 1 and len(second) == 2 and second[0] == first[0]
    assert summary["segments"] == 2
    assert summary["wall_s"] == pytest.approx(sum(end - start for start, end in second), abs=0.1)
    assert summary["wall_s"] > second[1][1] - second[1][0]  # more than the last segment alone
