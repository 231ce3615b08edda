"""The run directory: who may write into it, and the small state that must outlive any checkpoint.

One run directory holds one run. `claim` refuses to start a fresh run in a directory that already holds
files (the old run's checkpoints would be pruned by the new one's retention, and a later `resume=auto`
would continue the *other* run's weights and data cursor); `overwrite=true` clears a previous run first,
but never a directory that does not look like one.

`run_state.json` is rewritten (atomically) after every step. It carries what a checkpoint cannot, because
checkpoints are older than the moment a run dies: how many rollbacks the run has made and the mitigation
they left behind (so `monitor.max_rollbacks` survives a crash and a resume), the highest global step logged
(wandb drops any step that is not larger than the last one it saw), the wandb run id (a resumed run continues
the same wandb run), and the wall-clock segments of every process that worked on the run (so
`summary.json`'s `wall_s` is the whole run, not its last segment).

While a run works, its process holds an exclusive `flock` on the run directory itself (`hold`): a second
`rlvr train` into the same directory, even `resume=auto` or `overwrite=true`, is refused instead of deleting
or interleaving the first one's files. The tools that read a finished run (`rlvr plot/inspect/export`) hold
a shared lock while they read (`reading`): they refuse a run still being written, and a run cannot start in
a directory while one of them reads it. The kernel drops a lock when its process ends, however it ends (a
SIGKILL leaves no stale lock file); the lock is on the directory, so no file is added. Engines and workers
are spawned, never forked, so no child inherits it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError, StorageError

STATE_FILE = "run_state.json"
# Files only rlvr writes at the top of a run directory: `overwrite=true` deletes a directory only if it has one.
RUN_MARKERS = ("metrics.jsonl", STATE_FILE, "config.yaml", "summary.json", "checkpoints", ".hydra")


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename: readers see the old or the new file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"could not write {path} ({exc.strerror or exc}); its previous version is intact") from None


class RunInUse(ConfigError):
    """Another live process holds the run directory."""


_NO_LOCKS: list[str] = []  # the file system's refusal, once: then runs go on unlocked (with one warning)


def _try_lock(run_dir: Path, mode: int) -> int | None:
    """An fd holding `mode` (LOCK_EX or LOCK_SH) on `run_dir`, None when another process holds a conflicting
    lock, or -1 when the file system has no flock (some NFS and Lustre mounts): then nothing is locked."""
    fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)  # not inherited by exec'd children (O_CLOEXEC)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        if not _NO_LOCKS:
            _NO_LOCKS.append(exc.strerror or str(exc))
            print(f"warning: {run_dir}: no file locks here ({_NO_LOCKS[0]}); one process per run is not enforced",
                  file=sys.stderr)  # fmt: skip
        return -1
    return fd


def _release(fd: int) -> None:
    if fd >= 0:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def hold(run_dir: Path) -> Iterator[None]:
    """Hold `run_dir` (created if missing) for the duration of a run; RunInUse if another process uses it.
    A directory this call created is removed again if the run fails before writing anything into it."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"run_dir {run_dir} exists and is not a directory")
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = _try_lock(run_dir, fcntl.LOCK_EX)
    if fd is None:
        raise RunInUse(
            f"run_dir {run_dir} is in use by another running rlvr process; wait for it to end or choose another run_dir"
        )
    try:
        yield
    except BaseException:
        if created and not any(run_dir.iterdir()):
            run_dir.rmdir()  # a rejected run leaves no directory behind
        raise
    finally:
        _release(fd)


@contextlib.contextmanager
def reading(path: Path) -> Iterator[Path]:
    """`path` as a finished run directory, held against writers (a shared lock: readers do not exclude each
    other) while the caller reads it; a one-line ConfigError when it is not a run or is still being written."""
    if not path.is_dir():
        raise ConfigError(f"{path} is not a directory (expected an rlvr run directory)")
    if not (path / "config.yaml").exists() or not (path / "metrics.jsonl").exists():
        raise ConfigError(f"{path} is not an rlvr run directory (no config.yaml and metrics.jsonl)")
    fd = _try_lock(path, fcntl.LOCK_SH)
    if fd is None:
        raise RunInUse(f"{path} is a run still being written (its process holds the run); wait for it to end")
    try:
        yield path
    finally:
        _release(fd)


def claim(run_dir: Path, *, resume: str, overwrite: bool) -> None:
    """Check that this run may use `run_dir` before anything is written (see the module docstring)."""
    entries = sorted(p.name for p in run_dir.iterdir()) if run_dir.is_dir() else []
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"run_dir {run_dir} exists and is not a directory")
    if not entries:
        return
    if resume == "auto":
        if not list(run_dir.glob("checkpoints/step_*/state.pt")) and _has_trained(run_dir):
            raise ConfigError(
                f"resume=auto: run_dir {run_dir} holds a run that trained but saved no checkpoint to resume "
                "from; choose another run_dir or pass overwrite=true (and resume=none) to start it over"
            )
        return
    if overwrite:
        if not any(name in entries for name in RUN_MARKERS):
            raise ConfigError(
                f"overwrite=true: run_dir {run_dir} is not empty and does not look like an rlvr run "
                f"(it holds {', '.join(entries[:3])}...); refusing to delete it"
            )
        for name in entries:
            path = run_dir / name
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        return
    what = "resume=<path> writes a new run there" if resume != "none" else "a new run would mix with it"
    raise ConfigError(
        f"run_dir {run_dir} already holds a run ({', '.join(entries[:4])}); {what}. "
        "Continue it with resume=auto, choose another run_dir, or pass overwrite=true to delete it first"
    )


def _has_trained(run_dir: Path) -> bool:
    """Did a run in `run_dir` get past step 0 (a training step logged, or a final model written)?"""
    if (run_dir / "summary.json").exists() or (run_dir / "model").exists():
        return True
    metrics = run_dir / "metrics.jsonl"
    if not metrics.exists():
        return False
    for line in metrics.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) > 0:
                return True
        except ValueError:
            continue
    return False


@dataclass
class RunState:
    """What a run must remember across processes; see the module docstring."""

    rollbacks: int = 0
    lr_scale: float = 1.0
    seed_offset: int = 0
    global_step: int = 0
    wandb_id: str | None = None
    segments: list[list[float]] = field(default_factory=list)  # [start, last seen alive] per process

    @classmethod
    def load(cls, run_dir: Path) -> RunState:
        path = run_dir / STATE_FILE
        if not path.exists():
            return cls()
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"{path} is unreadable ({exc}); move it away to start the run's bookkeeping anew"
            ) from None
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def start_segment(self, started: float) -> None:
        """A process begins to work on the run (at time `started`)."""
        self.segments.append([started, time.time()])

    def save(self, run_dir: Path) -> None:
        if self.segments:
            self.segments[-1][1] = time.time()
        atomic_write_text(run_dir / STATE_FILE, json.dumps(asdict(self), indent=1))

    @property
    def wall_s(self) -> float:
        """Wall-clock seconds of every process that worked on the run (up to its last save)."""
        return sum(end - start for start, end in self.segments)
