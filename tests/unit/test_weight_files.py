"""Weight files a learner leaves behind are deleted once, and only once, it is gone."""

import subprocess
import sys
import time

from rlvr.rollout.actors import remove_files_of_dead
from rlvr.rollout.weights import remove_orphans, weights_dir


def weight_file(pid: int):
    path = weights_dir(1 << 20) / f"rlvr-weights-{pid}-v1.safetensors"
    path.write_bytes(b"x")
    return path


def test_a_learner_still_exiting_when_its_pipe_closes_loses_its_files_once_it_is_gone():
    # The race seen after a learner SIGKILL: the actor reads EOF while the learner still reads as alive. The
    # actor must wait for the end, not give up at once (which left the file behind for good).
    learner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.6)"])
    path = weight_file(learner.pid)
    try:
        start = time.monotonic()
        remove_files_of_dead(learner.pid, wait_s=20)
        assert 0.3 < time.monotonic() - start < 15
        assert not path.exists()
    finally:
        learner.wait()
        path.unlink(missing_ok=True)


def test_the_files_of_a_learner_that_lives_on_are_kept():
    learner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    path = weight_file(learner.pid)
    try:
        remove_files_of_dead(learner.pid, wait_s=0.3)
        assert path.exists()
        remove_orphans()  # its writer is alive: not an orphan
        assert path.exists()
    finally:
        learner.kill()
        learner.wait()
    remove_orphans()
    assert not path.exists()
