"""Fixtures shared by every test directory (the rest are in ``support``, loaded here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from natswire import server as server_mod

pytest_plugins = ["support"]


@pytest.fixture
def no_leaked_servers() -> Iterator[None]:
    """The test must stop every server it starts; leftovers are stopped and reported.

    Servers that were already running (fixtures of a wider scope) are not the test's.
    """
    before = set(server_mod.live_servers())
    yield
    leaked = [server for server in server_mod.live_servers() if server not in before]
    for server in leaked:
        server.stop(timeout=2.0)
    assert not leaked, f"servers left running or with temp dirs: {leaked}"
