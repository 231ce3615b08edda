"""However a run with rollout actors ends, nothing it started is left running and no shared memory is left in
/dev/shm: a normal end (with an actor killed on the way), an error, SIGINT, SIGTERM, and the learner SIGKILLed.

Each test starts `rlvr train` as a user would, records the process tree once the first step is logged, ends
the run its way, and then looks for survivors (zombies excepted: they have exited and hold only a pid).
"""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from rlvr.rollout.actors import mapped_shm
from rlvr.rollout.processes import alive, descendants, shm_entries
from tests.conftest import ROOT, tiny_overrides

HELPERS = f"{ROOT}/tests/helpers/rewards.py"


def start(model_dir: Path, run_dir: Path, *extra: str) -> subprocess.Popen:
    overrides = tiny_overrides(
        model_dir, run_dir, "rollout.mode=actor", "rollout.actor_backend=process", "rollout.actors=2",
        "rollout.threads=1", "threads=1", "rollout.max_staleness=1", "algo.tis_cap=2.0", "reward=[format]",
        "eval.before_training=false", "eval.after_training=false", "eval.every=0", *extra,
    )  # fmt: skip
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "rlvr.cli", "train", *overrides], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )


def steps_logged(run_dir: Path) -> list[int]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["step"] for line in path.read_text().splitlines() if '"reward/mean"' in line]


@dataclass
class Footprint:
    """What a run holds once its first step is logged: its processes, and the /dev/shm entries they map
    (POSIX semaphores and shared-memory segments are mmapped files), plus its weight files."""

    learner: int
    tree: list[int]
    shm: set[str]

    @classmethod
    def of(cls, learner: int) -> "Footprint":
        tree = [learner, *descendants(learner)]
        weights = {name for name in shm_entries() if name.startswith(f"rlvr-weights-{learner}-")}
        return cls(learner, tree, mapped_shm(tree) | weights)


def wait_for_step(proc: subprocess.Popen, run_dir: Path, timeout_s: float = 240) -> Footprint:
    deadline = time.monotonic() + timeout_s
    while not steps_logged(run_dir):
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "no step logged in time"
        time.sleep(0.2)
    return Footprint.of(proc.pid)


def actors(pids: list[int]) -> dict[int, int]:
    """Actor index -> pid (an actor process names itself rlvr-actor-N)."""

    def comm(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return ""

    return {int(comm(p).removeprefix("rlvr-actor-")): p for p in pids if comm(p).startswith("rlvr-actor-")}


def assert_nothing_left(footprint: Footprint, grace_s: float = 15) -> None:
    """No process of the run alive, none of its /dev/shm entries left, no weight file of its learner. (Entries
    are attributed by what the run's processes mapped, not by a before/after listing: other programs on the
    machine create and delete /dev/shm entries too.)"""
    deadline = time.monotonic() + grace_s
    while [p for p in footprint.tree if alive(p)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [p for p in footprint.tree if alive(p)] == []
    assert footprint.shm, "the run mapped no /dev/shm entry at all: the check would be empty"
    left = shm_entries()
    assert footprint.shm & left == set()
    assert {name for name in left if name.startswith(f"rlvr-weights-{footprint.learner}-")} == set()


@pytest.mark.slow
def test_normal_end_with_an_actor_killed_on_the_way(tiny_model_dir, tmp_path):
    proc = start(tiny_model_dir, tmp_path, "steps=6")
    run = wait_for_step(proc, tmp_path)
    assert sorted(actors(run.tree)) == [0, 1]
    os.kill(actors(run.tree)[0], signal.SIGKILL)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    assert steps_logged(tmp_path) == list(range(1, 7))
    events = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [e["actor"] for e in events if e.get("event") == "rollout_restart"] == [0]
    assert "rollout_restart" in stderr  # the restart is on the console too
    assert_nothing_left(run)


def test_an_error_ends_the_run_and_its_actors(tiny_model_dir, tmp_path):
    hang = f"+reward.hang={{fn: '{HELPERS}:hangs', timeout_s: 0.2}}"
    proc = start(tiny_model_dir, tmp_path, "steps=20", "reward_max_timeout_steps=2", hang)
    run = wait_for_step(proc, tmp_path)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 2 and "Traceback" not in stderr, stderr[-3000:]
    assert_nothing_left(run)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM)])
def test_a_signal_to_the_learner_ends_everything(tiny_model_dir, tmp_path, sig, code):
    proc = start(tiny_model_dir, tmp_path, "steps=200")
    run = wait_for_step(proc, tmp_path)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr[-3000:]
    assert "Traceback" not in stderr
    assert_nothing_left(run)


def test_a_killed_learner_takes_its_actors_with_it(tiny_model_dir, tmp_path):
    proc = start(tiny_model_dir, tmp_path, "steps=200")
    run = wait_for_step(proc, tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    assert_nothing_left(run)
