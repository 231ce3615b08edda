"""`cluster=ray` on a local Ray cluster this module starts (`ray start --head --block`, 6 logical CPUs): learner
ranks and rollout actors are Ray actors in the run's placement group, reward workers Ray actors. Two ranks on Ray
train as one local process does on the same batches; a killed actor is replaced and the run goes on; a killed
rank stops the run with one line and `resume=auto` finishes it; the placement group is gone after every run;
a cluster too small or not there is a one-line error (exit 2)."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from rlvr.distributed.group import free_port
from rlvr.rollout.processes import descendants
from tests.conftest import ROOT, importable, require, run_cli
from tests.integration.test_distributed import assert_same_step, overrides, steps
from tests.integration.test_exit_paths import steps_logged

pytestmark = pytest.mark.slow
RAY = str(Path(sys.executable).with_name("ray"))
REWARD_CPU = "counting a CPU for each of reward_workers=1"


@dataclass(frozen=True)
class RayHead:
    address: str
    pid: int  # `ray start --block`: the cluster's GCS, raylet and workers are its descendants


def ray_processes(head: RayHead, title: str) -> list[int]:
    """Pids of this cluster's workers titled `ray::<title>` (Ray names a worker after the actor class it runs).
    Only the head's descendants: a test on the other xdist worker runs Ray actors of the same class in a Ray
    of its own (counting those failed a CI run, and killing one would break that test)."""
    found = []
    for pid in descendants(head.pid):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        if args.split(".")[0].strip() == f"ray::{title}":
            found.append(pid)
    return sorted(found)


@pytest.fixture(scope="module")
def module_monkeypatch():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def cluster(module_monkeypatch):
    """A Ray head on this machine for this module only; its whole process tree goes at the end."""
    require("ray", importable("ray"), "pip install 'rlvr[ray]'")
    import ray

    # Ray 2.60 turns token authentication on, with a token in ~/.ray that a private Ray instance started by
    # another test meanwhile can replace: a driver holding the other token is then refused ("Missing
    # authorization header") and its actors die at birth. Off for this head and every run against it.
    module_monkeypatch.setenv("RAY_AUTH_MODE", "disabled")

    port = free_port()
    # every port of its own: a private Ray instance another test starts meanwhile takes Ray's default ports,
    # and an agent that cannot bind its port takes its raylet (and this cluster's actors) down with it
    ports = [f"--{name}={free_port()}" for name in (
        "dashboard-agent-grpc-port", "dashboard-agent-listen-port", "metrics-export-port", "runtime-env-agent-port",
        "node-manager-port", "object-manager-port", "ray-client-server-port",
    )]  # fmt: skip
    head = subprocess.Popen(
        [RAY, "start", "--head", "--block", f"--port={port}", "--num-cpus=6", "--include-dashboard=false",
         "--disable-usage-stats", "--min-worker-port=21000", "--max-worker-port=21999", *ports],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    address = f"{ray.util.get_node_ip_address()}:{port}"
    try:
        wait_until_up(head, address)
        yield RayHead(address, head.pid)
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # --block: the head stops its GCS and raylet on SIGTERM
        try:
            head.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)


def wait_until_up(head: subprocess.Popen, address: str) -> None:
    deadline = time.monotonic() + 120
    probe = f"import ray; ray.init(address={address!r}, logging_level='ERROR'); assert ray.cluster_resources()['CPU']"
    while subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=120).returncode != 0:
        assert head.poll() is None and time.monotonic() < deadline, "the Ray head did not start"
        time.sleep(1)


def on_ray(model_dir, run_dir, world_size, head: RayHead, *extra):
    """test_distributed's run on the Ray cluster of `head` (its actors are Ray actors there)."""
    local = [o for o in overrides(model_dir, run_dir, world_size) if o != "rollout.actor_backend=process"]
    return [*local, "cluster=ray", f"cluster.address={head.address}", "cluster.timeout_s=60", *extra]


def placement_groups(address) -> dict[str, str]:
    code = (
        f"import ray; ray.init(address={address!r}, logging_level='ERROR'); "
        "from ray.util import placement_group_table; "
        "print({k: v['state'] for k, v in placement_group_table().items()})"
    )
    return eval(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def assert_released(head: RayHead):
    """The run's placement group is removed and no worker of it is left (the cluster's own agents stay)."""
    deadline = time.monotonic() + 30
    while (ray_processes(head, "RankServer") or ray_processes(head, "RolloutServer")) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray_processes(head, "RankServer") == ray_processes(head, "RolloutServer") == []
    assert set(placement_groups(head.address).values()) <= {"REMOVED"}


def test_two_ranks_on_ray_train_as_one_local_process_does(cluster, tiny_model_dir, tmp_path):
    runs = {}
    for name in ("local", "ray"):
        run_dir = tmp_path / name
        args = overrides(tiny_model_dir, run_dir, 1) if name == "local" else on_ray(tiny_model_dir, run_dir, 2, cluster)
        proc = run_cli("train", *args, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[name] = steps(run_dir)
    assert sorted(runs["local"]) == sorted(runs["ray"]) == [1, 2, 3]
    for step in runs["local"]:
        assert_same_step(runs["local"][step], runs["ray"][step])
        assert runs["ray"][step]["learn/micro_batches"] >= 2  # each rank ran its own micro-batch
    assert runs["local"][3]["learn/grad_norm"] > 0
    assert_released(cluster)


def test_a_private_ray_instance_declares_the_cpus_the_run_asks_for(tiny_model_dir, tmp_path):
    """Without cluster.address the run starts Ray for itself: two ranks, an actor and a reward worker ask for 4
    logical CPUs on this 2-core machine, which cluster=local runs the same way; it was refused ("the run
    needs 4 CPU (the cluster has 2)") with advice about `ray start` that a private instance cannot take."""
    local = [o for o in overrides(tiny_model_dir, tmp_path, 2) if o != "rollout.actor_backend=process"]
    proc = run_cli("train", *local, "cluster=ray", "cluster.timeout_s=60", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(steps(tmp_path)) == [1, 2, 3]


def wait_for_logged_step(proc: subprocess.Popen, run_dir: Path, step: int, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while max(steps_logged(run_dir), default=0) < step:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-3000:]
        time.sleep(0.1)


def test_ranks_and_actors_survive_a_killed_actor_and_resume_after_a_killed_rank(cluster, tiny_model_dir, tmp_path):
    """Five steps of two ranks and two actors: an actor killed after step 1 is replaced and the run goes on; a
    rank killed after step 3 (past the step-2 checkpoint) stops it with one line; resume=auto finishes it."""
    extra = ("steps=5", "rollout.actors=2", "prompts_per_step=2", "rollout.max_tokens=16", "checkpoint.every=2")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlvr.cli", "train", *on_ray(tiny_model_dir, tmp_path, 2, cluster, *extra)],
        cwd=ROOT, env={**os.environ, "HYDRA_FULL_ERROR": "0"}, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_logged_step(proc, tmp_path, 1)
    assert len(ray_processes(cluster, "RankServer")) == 2 and len(ray_processes(cluster, "RolloutServer")) == 2
    os.kill(ray_processes(cluster, "RolloutServer")[0], signal.SIGKILL)
    wait_for_logged_step(proc, tmp_path, 3)
    assert max(m.get("rollout/restarts", 0) for m in steps(tmp_path).values()) >= 1  # replaced, and on it went
    os.kill(max(ray_processes(cluster, "RankServer")), signal.SIGKILL)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 3, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith("stopped:")]
    assert len(lines) == 1 and "learner rank" in lines[0] and "Traceback" not in stderr, stderr[-3000:]
    assert_released(cluster)
    resumed = run_cli("train", *on_ray(tiny_model_dir, tmp_path, 2, cluster, *extra, "resume=auto"), timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert sorted(set(steps_logged(tmp_path))) == [1, 2, 3, 4, 5]
    assert_released(cluster)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("rollout.actors=4",), f"the run needs 7 CPU (the cluster has 6), {REWARD_CPU}"),
        # more ranks than this machine's 2 cores: the cluster's (logical) CPUs decide, not the driver's
        (
            ("learner.world_size=7",),
            "the run needs 9 CPU (the cluster has 6), counting a CPU for each of reward_workers=1",
        ),
        (("cluster.nodes=2",), "cluster.nodes=2, but the Ray cluster has 1 node(s)"),
        (("cluster.address=127.0.0.1:1",), "cluster.address=127.0.0.1:1: no Ray cluster answers at 127.0.0.1:1"),
        (  # found by the ranks as they load the model: out of Ray's error chain, the one line it is
            ("model.lora.rank=4", "model.lora.target_modules=[q_proj,lm_head]"),
            "the LoRA adapter cannot be synced to the rollout engines: LoRA on lm_head",
        ),
    ],
)
def test_a_run_the_cluster_cannot_hold_is_a_one_line_error(cluster, tiny_model_dir, tmp_path, extra, message):
    proc = run_cli("train", *on_ray(tiny_model_dir, tmp_path / "run", 2, cluster, *extra), timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), proc.stderr[-3000:]
    assert not (tmp_path / "run").exists()
    assert_released(cluster)
