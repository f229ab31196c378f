"""Fixtures for the client tests. The server, the natswire and nats-py client factories
come from ``support``: a plain nats-server per module."""

from __future__ import annotations

import pytest
from client_helpers import ErrorLog


@pytest.fixture
def error_log() -> ErrorLog:
    return ErrorLog()
