"""Process trees and shared memory: what a rollout engine leaves behind if nobody cleans up after it.

An engine is rarely one process: vLLM runs an engine core (and workers) under whatever process created it, and
they hold gigabytes of memory and shared-memory segments in /dev/shm. When the process that owns them is
killed, they are orphaned and live on. So whoever starts an engine records its process tree and the /dev/shm
entries that appeared while it started, and kills / unlinks them when the engine is closed, restarted or lost.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Iterable
from pathlib import Path

SHM = Path("/dev/shm")


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren...), read from /proc."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                continue
            found += children
            frontier += children
    return found


def alive(pid: int) -> bool:
    """Running (a zombie has exited: it holds nothing but its pid)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def kill_all(pids: Iterable[int]) -> None:
    """SIGKILL every pid, then reap the ones that were our own children.

    vLLM's shutdown force-kills a slow engine core without joining it, which leaves a zombie in the process
    table until its parent waits; `active_children()` waits on every finished multiprocessing child.
    """
    pids = list(pids)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        children = {p.pid for p in multiprocessing.active_children()}
        if not children.intersection(pids) and not any(alive(p) for p in pids):
            break
        time.sleep(0.05)


def shm_entries() -> set[str]:
    """Names in /dev/shm now."""
    try:
        return set(os.listdir(SHM))
    except OSError:
        return set()


def unlink_shm(names: Iterable[str]) -> None:
    for name in names:
        with contextlib.suppress(OSError):
            (SHM / name).unlink()


def mapped_shm(pids: Iterable[int]) -> set[str]:
    """/dev/shm entries the processes `pids` have mapped (from /proc/PID/maps)."""
    names = set()
    prefix = f"{SHM}/"
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps") as f:
                for line in f:
                    path = line.rstrip("\n").split(maxsplit=5)[-1]
                    if path.startswith(prefix) and not path.endswith(" (deleted)"):
                        name = path[len(prefix) :].split("/")[0]
                        if not name.startswith("plasma"):  # Ray's object store is Ray's to manage
                            names.add(name)
        except OSError:
            continue
    return names


def node_id() -> str:
    """This machine (boot id and host name): whether a process's parent runs here, or on another node of a Ray
    cluster (where its pid means nothing)."""
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() + "@" + socket.gethostname()
    return socket.gethostname()
