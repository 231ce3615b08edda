"""The broadcast weight transport (`rlvr.rollout.broadcast`) over gloo, writer and receivers in this process:
the bucket layout by hand, every tensor arriving in the sampling dtype across buckets, staging slots that
hold the writer back only when full, files and rollbacks that leave no stale copy behind, and a send that
cannot reach a member failing within the timeout without stranding the next one."""

import threading
import time

import pytest
import torch

from rlvr.rollout import broadcast as bc

F32, BF16 = torch.float32, torch.bfloat16


def test_layout_packs_consecutive_tensors_aligned_within_the_bucket_limit():
    specs = [
        ("a", (10,), F32),  # 40 bytes at 0
        ("b", (3,), BF16),  # 6 bytes at 64 (aligned); bucket ends at 70
        ("c", (20,), F32),  # 80 bytes: at 128 it would end at 208 > 200, so a new bucket at 0
        ("d", (100,), F32),  # 400 bytes: larger than the limit, alone
        ("e", (), F32),  # a scalar, 4 bytes, in a bucket of its own after d
    ]
    assert bc.layout(specs, 200) == [[(0, 0), (1, 64)], [(2, 0)], [(3, 0)], [(4, 0)]]
    assert [bc.bucket_size(specs, b) for b in bc.layout(specs, 200)] == [70, 80, 400, 4]
    assert bc.layout(specs, 10_000) == [[(0, 0), (1, 64), (2, 128), (3, 256), (4, 704)]]


def weights(scale: float) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "embed": torch.randn(7, 5, generator=g) * scale,
        "bias": torch.randn(3, generator=g) * scale,
        "head": torch.randn(11, 4, generator=g) * scale,
        "scale": torch.tensor(scale),
    }


def specs_of(tensors: dict[str, torch.Tensor], dtype: torch.dtype) -> list[bc.TensorSpec]:
    return [(name, tuple(t.shape), dtype) for name, t in tensors.items()]


def recording(tensors: dict[str, torch.Tensor], consumed: list[str]):
    """`named_tensors` that notes each name as the writer takes it."""

    def named_tensors():
        for name, tensor in tensors.items():
            consumed.append(name)
            yield name, tensor

    return named_tensors


@pytest.fixture
def small_buckets(monkeypatch):
    monkeypatch.setattr(bc, "BUCKET_BYTES", 96)  # the four tensors above travel in three buckets


def test_every_member_receives_each_version_in_the_sampling_dtype(small_buckets):
    sender = bc.Sender("gloo", timeout_s=20)
    receivers = [bc.Receiver(sender.channel, f"actor{i}.0.w0", torch.device("cpu")) for i in range(2)]
    try:
        for version, scale in ((1, 1.0), (2, -3.0)):
            w = weights(scale)
            consumed: list[str] = []
            megabytes, sequence = sender.send(
                version, recording(w, consumed), specs_of(w, BF16), ["actor1.0.w0", "actor0.0.w0"]
            )
            assert consumed == list(w) and megabytes == sum(t.numel() * 2 for t in w.values()) / 2**20
            assert sequence == version
            for receiver in receivers:
                got = receiver.take(sequence, version)
                assert list(got) == list(w)
                for name, tensor in w.items():
                    assert got[name].dtype == BF16 and torch.equal(got[name], tensor.to(BF16)), name
        assert sender.generation == 1  # the same members: one group for every version
    finally:
        for receiver in receivers:
            receiver.close()


def test_a_full_staging_slot_holds_the_writer_until_the_engine_takes_it(small_buckets):
    sender = bc.Sender("gloo", timeout_s=20)
    receiver = bc.Receiver(sender.channel, "actor0.0.w0", torch.device("cpu"))
    try:
        sender.send(1, weights(1.0).items, specs_of(weights(1.0), F32), ["actor0.0.w0"])
        # v1 is staged and not taken: the send of v2 waits for the receiver, which waits for the engine
        start, took = time.monotonic(), {}

        def engine_takes_v1_later():
            time.sleep(1.0)
            took["v1"] = receiver.take(1, 1)

        threading.Thread(target=engine_takes_v1_later).start()
        sender.send(2, weights(2.0).items, specs_of(weights(2.0), F32), ["actor0.0.w0"])
        assert time.monotonic() - start >= 1.0
        assert torch.equal(took["v1"]["embed"], weights(1.0)["embed"])
        assert torch.equal(receiver.take(2, 2)["embed"], weights(2.0)["embed"])
    finally:
        receiver.close()


def test_with_two_slots_two_versions_wait_for_the_engine_without_holding_the_writer(small_buckets):
    """Generation two steps ahead: an actor's queue holds a load behind a generation when the next version is
    sent. The writer must not wait for that generation (it would stall the learner every step)."""
    sender = bc.Sender("gloo", timeout_s=20, depth=2)
    receiver = bc.Receiver(sender.channel, "actor0.0.w0", torch.device("cpu"))
    try:
        start = time.monotonic()
        for version in (1, 2):
            sender.send(version, weights(version).items, specs_of(weights(version), F32), ["actor0.0.w0"])
        assert time.monotonic() - start < 5
        assert torch.equal(receiver.take(1, 1)["head"], weights(1)["head"])
        assert torch.equal(receiver.take(2, 2)["head"], weights(2)["head"])
    finally:
        receiver.close()


def test_a_version_loaded_from_a_file_frees_the_staging_and_older_versions_are_dropped(small_buckets):
    sender = bc.Sender("gloo", timeout_s=20)
    receiver = bc.Receiver(sender.channel, "actor0.0.w0", torch.device("cpu"))
    try:
        sender.send(1, weights(1.0).items, specs_of(weights(1.0), F32), ["actor0.0.w0"])
        receiver.settle(1)  # v1 came from a file after all: its staged copy is dropped
        sender.send(2, weights(2.0).items, specs_of(weights(2.0), F32), ["actor0.0.w0"])
        sender_thread_done = time.monotonic()
        assert torch.equal(receiver.take(2, 2)["bias"], weights(2.0)["bias"])
        assert time.monotonic() - sender_thread_done < 5
    finally:
        receiver.close()


def test_versions_that_go_back_after_a_rollback_still_arrive(small_buckets):
    """A rollback sends older versions again: what was settled by a file must not swallow them (sends are
    ordered by their sequence number, not by version)."""
    sender = bc.Sender("gloo", timeout_s=20)
    receiver = bc.Receiver(sender.channel, "actor0.0.w0", torch.device("cpu"))
    try:
        _, first = sender.send(15, weights(1.0).items, specs_of(weights(1.0), F32), ["actor0.0.w0"])
        receiver.settle(first)  # v15 came by file
        _, again = sender.send(10, weights(2.0).items, specs_of(weights(2.0), F32), ["actor0.0.w0"])  # rolled back
        assert torch.equal(receiver.take(again, 10)["embed"], weights(2.0)["embed"])
    finally:
        receiver.close()


def test_a_send_to_a_member_that_never_joins_fails_in_time_and_the_next_group_works(small_buckets):
    sender = bc.Sender("gloo", timeout_s=3)
    receiver = bc.Receiver(sender.channel, "actor0.0.w0", torch.device("cpu"))
    try:
        w = weights(1.0)
        consumed: list[str] = []
        start = time.monotonic()
        with pytest.raises(bc.BroadcastFailed, match="did not reach every actor") as failed:
            sender.send(1, recording(w, consumed), specs_of(w, F32), ["actor0.0.w0", "actor1.0.w0"])
        assert failed.value.sequence == 1
        assert time.monotonic() - start < 15
        assert consumed == list(w)  # drained: learner ranks gathering with the writer are not left waiting
        # the actor was replaced: a new member, a new generation, and the survivor joins it
        sender.send(2, weights(2.0).items, specs_of(weights(2.0), F32), ["actor0.0.w0"])
        assert sender.generation == 2
        assert torch.equal(receiver.take(2, 2)["head"], weights(2.0)["head"])
    finally:
        receiver.close()


def test_take_without_a_receiver_says_so(monkeypatch):
    monkeypatch.setattr(bc, "_receiver", None)
    with pytest.raises(bc.BroadcastFailed, match="no receiver"):
        bc.take(3, 3)


@pytest.mark.parametrize(
    ("devices", "world_size", "refused"),
    [(3, 1, False), (2, 1, True), (4, 2, False), (3, 2, True)],  # 2 actors of 1 GPU; learner ranks take GPUs 0..
)
def test_nccl_broadcast_is_refused_when_actors_share_the_learners_gpus(monkeypatch, devices, world_size, refused):
    """NCCL takes one process per GPU: a group with two processes on one GPU fails. Refused before any process
    or channel starts (the GPUs are simulated: `cuda_devices` and the model's device)."""
    from rlvr.config import compose
    from rlvr.errors import ConfigError
    from rlvr.rollout import actors

    cfg = compose([
        "experiment=tiny", "rollout.mode=actor", "rollout.actors=2", "rollout.weight_transport=broadcast",
        "model.device=cuda", f"learner.world_size={world_size}",
    ])  # fmt: skip
    monkeypatch.setattr(actors, "cuda_devices", lambda: devices)
    opened = []
    monkeypatch.setattr(actors.ActorGroup, "_open_channel", lambda self, weights: opened.append(1) or {})
    monkeypatch.setattr(actors, "Actor", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("started")))
    if refused:
        with pytest.raises(ConfigError, match="GPUs of their own"):
            actors.ActorGroup(cfg, "process", torch.float32)
        assert opened == []
    else:
        with pytest.raises(RuntimeError, match="started"):  # past the check: the channel opens, actors start
            actors.ActorGroup(cfg, "process", torch.float32)
        assert opened == [1]
