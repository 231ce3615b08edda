"""Find processes a sandboxed program left behind, however they disguise themselves.

A leftover can re-execute itself as any binary (`/bin/sleep`, `python3 -c ...`), so it is recognised by what it
cannot change from inside the sandbox: as root, the unprivileged uid the sandbox dropped it to (each execution
gets a fresh one from `rewards.sandbox`; the uids handed out during a test are recorded, so sandboxes of other
test sessions running on the same machine are not mistaken for ours); as a normal user, a pid namespace other
than ours.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

import pytest

from rewards import sandbox


def record_sandbox_uids(monkeypatch: pytest.MonkeyPatch) -> set[int]:
    """The set that will hold every uid `rewards.sandbox` hands to an execution while `monkeypatch` is active."""
    uids: set[int] = set()
    pick = sandbox._execution_uid

    def recording() -> int | None:
        uid = pick()
        if uid is not None:
            uids.add(uid)
        return uid

    monkeypatch.setattr(sandbox, "_execution_uid", recording)
    return uids


def _status(pid: str) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def leftover_processes(uids: Collection[int]) -> list[str]:
    """Live (not zombie) processes run by a sandbox: as root, those whose real uid is one of `uids`; otherwise
    ours in another pid namespace. Each as "pid uid command line"."""
    own_namespace = os.readlink("/proc/self/ns/pid")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = _status(entry.name)
            uid = int(status["Uid"].split()[0])
            if status["State"].startswith("Z"):
                continue  # a zombie holds nothing but a pid
            if os.geteuid() == 0:
                ours = uid in uids
            else:
                ours = uid == os.getuid() and os.readlink(f"/proc/{entry.name}/ns/pid") != own_namespace
            if ours:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name} {uid} {cmdline.strip()}")
        except (OSError, KeyError, ValueError):
            continue  # exited while we looked
    return found
