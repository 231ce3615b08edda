"""Checkpoints: atomic save, exact resume, retention, and the "last good" checkpoint rollback returns to.

Layout: `run_dir/checkpoints/step_000010/` holds
  `model.safetensors`   the trained weights, whole, under the model's own names (only the LoRA adapter when LoRA
                        is on), whatever the number of learner ranks that wrote them
  `optimizer/`          the optimizer's state in `torch.distributed.checkpoint` format, keyed by parameter name:
                        each learner rank writes its own shard, and a learner of any other world size (one
                        process included) loads it resharded; absent before the first update
  `state.pt`            LR schedule, weight version, data cursor, every RNG state, monitor history,
                        mitigation state, the partial run summary
  `config.yaml`         the composed config of the run
  `meta.json`           step and trajectory (how many rollbacks the run had made when it was written)
A checkpoint is written into `checkpoints/.tmp-step_000010-<pid>/`, flushed to disk, then renamed: a
`step_*` directory is complete by construction, and a crash (or a full disk) during a save leaves the
previous checkpoints untouched. Re-saving an existing step moves the old directory aside, renames the new
one in, and only then deletes the old one, so at every instant one complete copy is under a name that
`clean_partial` or `steps()` understands. `GOOD` inside a checkpoint marks that the monitor passed enough
steps after it was written; it carries over to a re-save of the same step on the same trajectory.
Retention keeps the newest `keep` checkpoints plus the newest good one.

A checkpoint directory can also be read from outside its run (`resume=<path>`, `model.checkpoint=<path>`):
`load_dir` reads it and never writes there.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from safetensors import SafetensorError
from safetensors.torch import load_file

from rlvr.config import CheckpointConfig
from rlvr.errors import StorageError

STEP_DIR = re.compile(r"^step_(\d{6,})$")
REPLACED_DIR = re.compile(r"^\.tmp-replaced-(step_\d{6,})-\d+$")
# What a failed write raises: OSError from the file system, RuntimeError from torch.save's zip writer
# ("PytorchStreamWriter failed writing file ...", which is how a full disk surfaces through torch.save).
WRITE_ERRORS = (OSError, RuntimeError, SafetensorError)  # safetensors' own error on a full disk


class CheckpointError(StorageError):
    """A checkpoint could not be written (disk full, permissions) or read."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def model_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """What a checkpoint stores of the model: the adapter for PEFT models, else every weight (contiguous,
    untied copies; safetensors refuses shared storage such as tied embeddings)."""
    if hasattr(model, "peft_config"):
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(model)
    else:
        state = model.state_dict()
    return detached_copies(state)


def detached_copies(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Contiguous copies that share no storage (safetensors refuses shared storage such as tied embeddings)."""
    return {name: tensor.detach().contiguous().clone() for name, tensor in state.items()}


def load_model_tensors(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    if hasattr(model, "peft_config"):
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, tensors)
        return
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    missing = [m for m in missing if m not in tied]
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint does not match the model: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )


class CheckpointManager:
    """Writes, finds, loads and prunes the checkpoints of one run directory."""

    def __init__(self, run_dir: Path, cfg: CheckpointConfig, *, before_rename: Callable[[], None] | None = None):
        self.dir = run_dir / "checkpoints"
        self.cfg = cfg
        self.before_rename = before_rename  # fault injection: runs after the files are written, before the rename

    def steps(self) -> list[int]:
        """Steps of the complete checkpoints, oldest first."""
        if not self.dir.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.dir.iterdir() if (m := STEP_DIR.match(p.name)) and p.is_dir())

    def path(self, step: int) -> Path:
        return self.dir / f"step_{step:06d}"

    def latest(self) -> int | None:
        steps = self.steps()
        return steps[-1] if steps else None

    def latest_good(self) -> int | None:
        good = [s for s in self.steps() if (self.path(s) / "GOOD").exists()]
        return good[-1] if good else None

    def clean_partial(self) -> None:
        """Finish what a crash interrupted: a replaced checkpoint whose successor never got its name is
        renamed back (the old copy is complete); every other temporary directory is removed."""
        if not self.dir.is_dir():
            return
        for p in sorted(self.dir.iterdir()):
            replaced = REPLACED_DIR.match(p.name)
            if replaced and not (self.dir / replaced.group(1)).exists():
                os.rename(p, self.dir / replaced.group(1))
        for p in self.dir.iterdir():
            if p.name.startswith(".tmp-"):
                shutil.rmtree(p, ignore_errors=True)

    def save(
        self,
        step: int,
        write_learner: Callable[[Path], None],
        state: dict[str, Any],
        config: Any,
        *,
        trajectory: int = 0,
    ) -> Path:
        """Write checkpoint `step` atomically; on any failure nothing of it remains, the previous checkpoints
        are untouched, and CheckpointError says why. `write_learner(dir)` writes the weights and optimizer
        state (`Learner.save`, or every rank of a learner group). `trajectory` counts the rollbacks before this
        save: a re-save of the same step keeps `GOOD` only when it is on the same trajectory."""
        self.dir.mkdir(parents=True, exist_ok=True)
        final = self.path(step)
        tmp = self.dir / f".tmp-{final.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir()
            write_learner(tmp)
            torch.save(state, tmp / "state.pt")
            (tmp / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(config)) if config else "")
            (tmp / "meta.json").write_text(json.dumps({"step": step, "trajectory": trajectory}))
            if self._same_trajectory(final, trajectory) and (final / "GOOD").exists():
                (tmp / "GOOD").write_text("passed the monitor\n")
            for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
                with open(path, "rb+") as f:
                    os.fsync(f.fileno())
            for directory in sorted(p for p in tmp.rglob("*") if p.is_dir()):
                _fsync_dir(directory)
            _fsync_dir(tmp)
            if self.before_rename is not None:
                self.before_rename()
            self._replace(tmp, final)
        except WRITE_ERRORS as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
            raise CheckpointError(
                f"could not write checkpoint {final} ({reason}); the previous checkpoints are intact"
            ) from None
        self.prune()
        return final

    @staticmethod
    def _same_trajectory(path: Path, trajectory: int) -> bool:
        try:
            return json.loads((path / "meta.json").read_text())["trajectory"] == trajectory
        except (OSError, ValueError, KeyError):
            return False

    def _replace(self, tmp: Path, final: Path) -> None:
        """Rename `tmp` to `final`. An existing `final` is renamed aside first (`.tmp-replaced-*`, which
        `clean_partial` removes) and deleted only after the new one is in place: a crash at any point leaves
        either the old or the new checkpoint under `final`, never neither."""
        aside = None
        if final.exists():
            aside = self.dir / f".tmp-replaced-{final.name}-{os.getpid()}"
            shutil.rmtree(aside, ignore_errors=True)
            os.rename(final, aside)
        try:
            os.rename(tmp, final)
        except OSError:
            if aside is not None:
                os.rename(aside, final)  # put the old one back
            raise
        _fsync_dir(self.dir)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)

    def discard_after(self, step: int) -> None:
        """Delete every checkpoint newer than `step` (a rolled-back trajectory's). Each is renamed to a
        temporary name first, so a crash halfway never leaves one that `latest()` would resume from."""
        for newer in [s for s in self.steps() if s > step]:
            self.path(newer).rename(self.dir / f".tmp-discarded-{newer}")
        self.clean_partial()

    def mark_good(self, step: int) -> None:
        path = self.path(step)
        if path.is_dir() and not (path / "GOOD").exists():
            (path / "GOOD").write_text("passed the monitor\n")
            self.prune()

    def prune(self) -> None:
        """Keep the newest `keep` checkpoints and the newest good one; delete the rest."""
        steps = self.steps()
        keep = set(steps[-self.cfg.keep :]) if self.cfg.keep > 0 else set()
        good = self.latest_good()
        if good is not None:
            keep.add(good)
        for step in steps:
            if step not in keep:
                shutil.rmtree(self.path(step), ignore_errors=True)

    def load(self, step: int, model: torch.nn.Module) -> dict[str, Any]:
        """Load checkpoint `step` of this run into `model`; returns its state dict (see the module docstring)."""
        return load_dir(self.path(step), model)


def load_dir(path: Path, model: torch.nn.Module) -> dict[str, Any]:
    """Load the weights of the checkpoint directory `path` (of any run) into `model`; returns its state.
    Read-only. (A training run restores its learner with `Learner.load` and `read_state`.)"""
    try:
        load_model_tensors(model, load_file(path / "model.safetensors", device=str(_device_of(model))))
    except (OSError, RuntimeError) as exc:
        raise CheckpointError(f"cannot load checkpoint {path}: {exc}") from None
    return read_state(path)


def read_state(path: Path) -> dict[str, Any]:
    """The checkpoint's `state.pt` (everything but the weights and the optimizer)."""
    try:
        return torch.load(path / "state.pt", weights_only=False)
    except (OSError, RuntimeError) as exc:
        raise CheckpointError(f"cannot load checkpoint {path}: {exc}") from None


def save_optimizer(model: torch.nn.Module, optimizer: torch.optim.Optimizer, directory: Path) -> None:
    """The optimizer's state into `directory` with `torch.distributed.checkpoint`, keyed by parameter name
    (every learner rank writes its shard; one process writes it all). Nothing before the first update: DCP's
    state template would run a zero-learning-rate step to create the state, which changes Adam's step count."""
    if not optimizer.state:
        return
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    dcp.save({"optimizer": get_optimizer_state_dict(model, optimizer)}, checkpoint_id=str(directory))


def load_optimizer(model: torch.nn.Module, optimizer: torch.optim.Optimizer, directory: Path) -> None:
    """The optimizer state `save_optimizer` wrote, resharded to this learner's ranks; a checkpoint written
    before the first update (no `directory`) gives a fresh optimizer."""
    if not directory.is_dir():
        optimizer.state.clear()
        return
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict, set_optimizer_state_dict

    try:
        state = {"optimizer": get_optimizer_state_dict(model, optimizer)}  # the layout to load into
        dcp.load(state, checkpoint_id=str(directory))
    except Exception as exc:  # DCP wraps a missing or unreadable file in its own errors
        raise CheckpointError(f"cannot load optimizer state {directory}: {str(exc).splitlines()[0]}") from None
    set_optimizer_state_dict(model, optimizer, state["optimizer"])


def is_checkpoint_dir(path: Path) -> bool:
    return (path / "state.pt").is_file() and (path / "model.safetensors").is_file()


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def rng_state() -> dict[str, Any]:
    import random

    import numpy as np

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import random

    import numpy as np

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def readable_safetensors(directory: Path) -> None:
    """Give the directory's safetensors files the mode any new file gets here (0644 under the usual umask):
    safetensors writes them 0600, so a run's checkpoints and exported model could not be read by the other
    users of a shared file system, while every other file beside them could."""
    mask = 0o022
    with contextlib.suppress(OSError, StopIteration, ValueError):  # the umask, read without setting it (os.umask
        status = Path("/proc/self/status").read_text()  # would, for every thread); else the usual one
        mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:")), 8)
    for path in directory.glob("*.safetensors"):
        os.chmod(path, 0o666 & ~mask)


def save_pretrained_atomically(
    model: torch.nn.Module, tokenizer: Any, out: Path, state_dict: dict[str, torch.Tensor] | None = None
) -> None:
    """`save_pretrained` of model and tokenizer into a temporary directory beside `out`, then renamed over it:
    never half a model (the run's final `model/`, `rlvr export`). `state_dict`: the weights to write when the
    model holds only a shard of them."""
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp, state_dict=state_dict)
        tokenizer.save_pretrained(tmp)
        readable_safetensors(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.rename(tmp, out)
    except WRITE_ERRORS as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(f"could not write {out}: {str(exc).splitlines()[0]}") from None
