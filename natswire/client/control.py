"""What a client offers beyond publish and subscribe, as nats-py does: the round trip
time, a forced reconnect, replacing the server pool, and nats-py's state constants."""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING

from .errors import ConnectionClosedError
from .state import (
    CLOSED,
    CONNECTED,
    CONNECTING,
    DISCONNECTED,
    DRAINING,
    ENDING,
    RECONNECTING,
    UP,
)
from .view import ClientView


class ClientControl(ClientView):
    """:meth:`rtt`, :meth:`force_reconnect`, :meth:`set_server_pool` and the state
    constants of nats-py's client class (``Client.CONNECTED`` ...)."""

    DISCONNECTED = DISCONNECTED
    CONNECTED = CONNECTED
    CLOSED = CLOSED
    RECONNECTING = RECONNECTING
    CONNECTING = CONNECTING
    #: nats-py drains subscriptions, then publishers; natswire's one state is both.
    DRAINING_SUBS = DRAINING
    DRAINING_PUBS = DRAINING

    if TYPE_CHECKING:

        async def flush(self, timeout: float | None = None) -> None: ...

    @property
    def is_draining_pubs(self) -> bool:
        """Whether the client drains (nats-py's second drain phase; natswire has one)."""
        return self._status is DRAINING

    def report_error(self, error: Exception) -> None:
        """Hand an asynchronous error to ``error_cb`` as the client's own are handed (it
        is counted; a coroutine ``error_cb`` runs as a kept task; no ``error_cb``: the
        log). For natswire's upper layers, whose errors arise outside any call."""
        self._supervisor.report_error(error)

    async def rtt(self, timeout: float = 10) -> float:
        """The seconds a PING takes to come back as a PONG."""
        if self._status not in UP:
            raise ConnectionClosedError(f"not connected ({self._status.value})")
        started = monotonic()
        await self.flush(timeout)
        return monotonic() - started

    async def force_reconnect(self) -> None:
        """Drop the connection and reconnect (to the next server of the pool)."""
        if self._status in ENDING:
            raise ConnectionClosedError("connection is closed")
        if self._status is CONNECTED:
            self._supervisor.abort_connection()

    def set_server_pool(self, servers: list[str]) -> None:
        """Replace the server pool; used from the next reconnect on. Servers already in
        the pool keep their attempt counts."""
        if self._status is CLOSED:
            raise ConnectionClosedError("connection is closed")
        failover = self._supervisor.failover
        if failover is None:
            raise ConnectionClosedError("not connected: call connect() first")
        failover.pool.replace(servers)
