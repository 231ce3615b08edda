"""Every security test checks that nothing it sandboxed is left running afterwards, found by the uid or pid
namespace of the sandbox, never by command line: a leftover can re-execute itself as any binary."""

import time

import pytest

from tests.helpers.sandbox_processes import leftover_processes, record_sandbox_uids


@pytest.fixture(autouse=True)
def nothing_left_behind(monkeypatch):
    """Yields the uids this test's sandboxes ran as; afterwards, no process of theirs may be left running."""
    uids = record_sandbox_uids(monkeypatch)
    yield uids
    deadline = time.monotonic() + 3.0
    while leftover_processes(uids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftover_processes(uids) == []
