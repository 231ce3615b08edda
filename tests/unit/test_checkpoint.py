"""CheckpointManager: atomic writes, retention, good marks, round trips, and a full disk."""

import errno

import pytest
import torch
from transformers import AutoModelForCausalLM

from rlvr import checkpoint as checkpoint_module
from rlvr.checkpoint import CheckpointError, CheckpointManager, model_tensors
from rlvr.config import CheckpointConfig


def writer(model):
    """What a learner writes into a checkpoint, for a bare model: its weights."""
    from safetensors.torch import save_file

    return lambda directory: save_file(model_tensors(model), directory / "model.safetensors")


@pytest.fixture
def model(tiny_model_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir)


def test_round_trip_restores_exact_weights_and_state(tmp_path, model):
    manager = CheckpointManager(tmp_path, CheckpointConfig(keep=2))
    manager.save(3, writer(model), {"step": 3, "anything": [1, 2]}, None)
    original = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    state = manager.load(3, model)
    assert state == {"step": 3, "anything": [1, 2]}
    assert all(torch.equal(original[k], v) for k, v in model.state_dict().items())
    # tied embeddings stay tied after a load
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()


def test_retention_keeps_the_newest_and_the_last_good(tmp_path, model):
    manager = CheckpointManager(tmp_path, CheckpointConfig(keep=2))
    for step in (0, 2, 4):
        manager.save(step, writer(model), {}, None)
    manager.mark_good(2)
    for step in (6, 8):
        manager.save(step, writer(model), {}, None)
    assert manager.steps() == [2, 6, 8]
    assert manager.latest() == 8 and manager.latest_good() == 2


def test_a_crash_before_the_rename_leaves_only_a_temporary_directory(tmp_path, model):
    manager = CheckpointManager(tmp_path, CheckpointConfig(keep=3))
    manager.save(1, writer(model), {"step": 1}, None)

    def crash():
        raise KeyboardInterrupt  # stands in for SIGKILL between the writes and the rename

    manager.before_rename = crash
    with pytest.raises(KeyboardInterrupt):
        manager.save(2, writer(model), {"step": 2}, None)
    assert manager.steps() == [1]
    assert any(p.name.startswith(".tmp-") for p in manager.dir.iterdir())
    manager.clean_partial()
    assert [p.name for p in manager.dir.iterdir()] == ["step_000001"]
    assert manager.load(1, model) == {"step": 1}


def test_a_full_disk_is_an_error_that_keeps_the_last_checkpoint(tmp_path, model, monkeypatch):
    manager = CheckpointManager(tmp_path, CheckpointConfig(keep=3))
    manager.save(1, writer(model), {"step": 1}, None)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module.torch, "save", full_disk)
    with pytest.raises(CheckpointError, match=r"No space left on device.*previous checkpoints are intact"):
        manager.save(2, writer(model), {"step": 2}, None)
    monkeypatch.undo()
    assert manager.steps() == [1]
    assert [p.name for p in manager.dir.iterdir()] == ["step_000001"]  # no partial directory
    assert manager.load(1, model) == {"step": 1}


def test_torch_save_failing_with_runtime_error_is_a_checkpoint_error(tmp_path, model, monkeypatch):
    # a full disk reaches torch.save's zip writer as a RuntimeError, not an OSError
    manager = CheckpointManager(tmp_path, CheckpointConfig(keep=3))
    manager.save(1, writer(model), {"step": 1}, None)

    def disk_full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed writing file")

    monkeypatch.setattr(checkpoint_module.torch, "save", disk_full)
    with pytest.raises(CheckpointError, match=r"PytorchStreamWriter failed.*previous checkpoints are intact"):
        manager.save(2, writer(model), {"step": 2}, None)
    monkeypatch.undo()
    assert [p.name for p in manager.dir.iterdir()] == ["step_000001"]
    assert manager.load(1, model) == {"step": 1}


def test_resaving_a_step_never_leaves_it_missing(tmp_path, model, monkeypatch):
    manager = CheckpointManager(tmp_path, CheckpointConfig(keep=3))
    manager.save(4, writer(model), {"step": 4, "version": "old"}, None)
    real_rename = checkpoint_module.os.rename

    def crash_on_rename_in(src, dst, *args, **kwargs):
        if str(src).endswith(f"-{checkpoint_module.os.getpid()}") and ".tmp-step_" in str(src):
            raise KeyboardInterrupt  # stands in for SIGKILL just before the new copy gets its name
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module.os, "rename", crash_on_rename_in)
    with pytest.raises(KeyboardInterrupt):
        manager.save(4, writer(model), {"step": 4, "version": "new"}, None)
    monkeypatch.undo()
    manager.clean_partial()  # what the next start does
    assert manager.steps() == [4]
    assert manager.load(4, model) == {"step": 4, "version": "old"}
    assert not [p for p in manager.dir.iterdir() if p.name.startswith(".tmp-")]
    manager.save(4, writer(model), {"step": 4, "version": "new"}, None)
    assert manager.load(4, model) == {"step": 4, "version": "new"}


def test_a_resave_keeps_good_only_on_the_same_trajectory(tmp_path, model):
    manager = CheckpointManager(tmp_path, CheckpointConfig(keep=3))
    manager.save(6, writer(model), {"step": 6}, None, trajectory=0)
    manager.mark_good(6)
    manager.save(6, writer(model), {"step": 6}, None, trajectory=0)  # the same run re-saving its last step
    assert manager.latest_good() == 6
    manager.save(6, writer(model), {"step": 6}, None, trajectory=1)  # after a rollback: not checked by the monitor yet
    assert manager.latest_good() is None


def test_a_checkpoint_of_another_run_is_read_without_writing(tmp_path, model):
    other = CheckpointManager(tmp_path / "other", CheckpointConfig(keep=1))
    path = other.save(2, writer(model), {"step": 2}, None)
    stamp = sorted((p.name, p.stat().st_mtime_ns) for p in path.iterdir())
    assert checkpoint_module.load_dir(path, model) == {"step": 2}
    assert sorted((p.name, p.stat().st_mtime_ns) for p in path.iterdir()) == stamp
