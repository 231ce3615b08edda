"""Weight files: those a learner leaves behind are deleted once, and only once, it is gone; a file streamed
tensor by tensor reads back as the same tensors; an actor on another node gets the bytes, not a path."""

import subprocess
import sys
import time

import pytest
import torch

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


def test_a_streamed_weight_file_is_a_safetensors_file_of_the_same_tensors(tmp_path):
    """Written tensor by tensor from a header built first: safetensors' own reader gets every tensor back
    exactly, converted to the sampling dtype, and one that does not match its header is refused."""
    from safetensors.torch import load_file

    from rlvr.rollout.weights import WeightFile, stream_safetensors

    tensors = {
        "embed.weight": torch.randn(7, 3),
        "norm.weight": torch.rand(3),
        "scalar": torch.tensor(2.5),
        "lm_head.weight": torch.randn(5, 3).t(),  # not contiguous
    }
    specs = [(name, tuple(t.shape), t.dtype) for name, t in tensors.items()]
    weights = WeightFile(lambda: iter(tensors.items()), version=3, dtype=torch.bfloat16, specs=specs)
    try:
        loaded = load_file(weights.path)
        assert set(loaded) == set(tensors)
        for name, tensor in tensors.items():
            assert loaded[name].dtype == torch.bfloat16
            assert torch.equal(loaded[name], tensor.to(torch.bfloat16)), name
        assert weights.megabytes == sum(t.numel() * 2 for t in tensors.values()) / 2**20
    finally:
        weights.remove()
    with pytest.raises(ValueError, match=r"expected norm\.weight"):
        stream_safetensors(tmp_path / "w.safetensors", specs, [("embed.weight", tensors["embed.weight"])] * 4)


def test_an_actor_on_another_node_gets_the_bytes_not_a_path(monkeypatch):
    """A path means nothing on another machine: that actor's payload carries the file's bytes by reference
    (Ray's object store; `ray.put` stood in for here), put once however many such actors there are."""
    import sys
    import types

    from rlvr.rollout.weights import WeightFile, decode

    store: list[bytes] = []

    def put(data: bytes) -> int:
        store.append(data)
        return len(store) - 1

    monkeypatch.setitem(sys.modules, "ray", types.SimpleNamespace(put=put, get=lambda ref: store[ref]))
    tensors = {"w": torch.arange(6.0).reshape(2, 3)}
    weights = WeightFile(lambda: tensors.items(), version=1)
    try:
        assert weights.payload_for(weights.node) == weights.payload
        remote = weights.payload_for("another-machine")
        again = weights.payload_for("a-third-machine")
        assert remote["kind"] == again["kind"] == "ray" and remote["ref"] == again["ref"] and len(store) == 1
        assert torch.equal(decode(remote)["w"], tensors["w"])
        elsewhere = WeightFile.written_elsewhere(str(weights.path), 1, weights.megabytes, "rank-0-machine")
        with pytest.raises(RuntimeError, match="not shared"):
            elsewhere.payload_for("another-machine")  # only the writer can share a file
    finally:
        weights.remove()


def test_every_dtype_and_empty_tensors_stream_8_byte_aligned(tmp_path):
    """safetensors starts the data 8-byte aligned after the header (padded with spaces); integer, bool and empty
    tensors come back as they went in; a dtype safetensors cannot name is refused by name."""
    import json
    import struct

    from safetensors.torch import load_file

    from rlvr.rollout.weights import stream_safetensors

    tensors = {
        "ints": torch.arange(5, dtype=torch.int64),
        "flags": torch.tensor([True, False, True]),
        "bytes": torch.arange(3, dtype=torch.uint8),
        "empty": torch.zeros(0, 4),
        "half": torch.randn(2, 2).half(),
    }
    path = tmp_path / "w.safetensors"
    stream_safetensors(path, [(n, tuple(t.shape), t.dtype) for n, t in tensors.items()], tensors.items())
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    assert length % 8 == 0 and raw[8 : 8 + length].decode().rstrip(" ").endswith("}")
    start, end = header["empty"]["data_offsets"]
    assert start == end  # no bytes
    assert len(raw) == 8 + length + max(end for _, end in (v["data_offsets"] for v in header.values()))
    loaded = load_file(path)
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype and torch.equal(loaded[name], tensor), name
    with pytest.raises(ValueError, match=r"safetensors has no code for torch\.complex64"):
        stream_safetensors(path, [("z", (1,), torch.complex64)], [("z", torch.zeros(1, dtype=torch.complex64))])


def test_a_file_written_on_another_node_is_removed_by_its_writer(tmp_path):
    """The driver cannot unlink a file on rank 0's node: `remove` asks the writer (and a writer that is gone
    is no error)."""
    from rlvr.rollout.weights import WeightFile

    path = tmp_path / "rlvr-weights-1-v1.safetensors"
    path.write_bytes(b"x")
    asked: list[bool] = []
    WeightFile.written_elsewhere(str(path), 1, 0.0, "rank-0-machine", remove=lambda: asked.append(True)).remove()
    assert asked == [True] and path.exists()  # asked the writer, did not touch a path that is not ours

    def gone() -> None:
        raise RuntimeError("learner rank 0 died")

    WeightFile.written_elsewhere(str(path), 1, 0.0, "rank-0-machine", remove=gone).remove()
    WeightFile.written_elsewhere(str(path), 1, 0.0, "this-machine").remove()
    assert not path.exists()  # on the driver's own node: unlinked here
