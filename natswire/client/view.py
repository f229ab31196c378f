"""The read-only view of a client: its state, server, limits and pending work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .server_version import ServerVersion
from .servers import Server, ServerURL
from .state import CLOSED, CONNECTING, DRAINING, RECONNECTING, UP, Status

if TYPE_CHECKING:
    from .requests import RequestMultiplexer
    from .supervisor import Supervisor


class ClientView:
    """The properties of :class:`~natswire.client.Client` that only read its state."""

    _status: Status
    _supervisor: Supervisor
    _max_payload: int
    _outbound: bytearray
    _requests: RequestMultiplexer

    @property
    def status(self) -> Status:
        """``Status.CONNECTING``, ``CONNECTED``, ``RECONNECTING``, ``DRAINING``,
        ``CLOSING`` or ``CLOSED`` (``DISCONNECTED`` before ``connect()``)."""
        return self._status

    @property
    def is_connected(self) -> bool:
        """Whether a connection is up (draining included)."""
        return self._status in UP

    @property
    def is_closed(self) -> bool:
        return self._status == CLOSED

    @property
    def is_reconnecting(self) -> bool:
        return self._status == RECONNECTING

    @property
    def is_connecting(self) -> bool:
        return self._status == CONNECTING

    @property
    def is_draining(self) -> bool:
        return self._status == DRAINING

    @property
    def connected_url(self) -> ServerURL | None:
        """The URL of the server connected to (text with ``.hostname``, ``.port`` ...,
        as nats-py's parsed URL), or ``None``."""
        server = self._supervisor.current_server
        return ServerURL(server.url) if server is not None else None

    @property
    def server_pool(self) -> list[Server]:
        """The servers of the pool (each with nats-py's ``.uri`` and ``.reconnects``)."""
        failover = self._supervisor.failover
        return list(failover.pool.servers) if failover else []

    @property
    def servers(self) -> list[str]:
        """Every server in the pool, explicit and discovered."""
        failover = self._supervisor.failover
        return [s.url for s in failover.pool.servers] if failover else []

    @property
    def discovered_servers(self) -> list[str]:
        failover = self._supervisor.failover
        return [s.url for s in failover.pool.servers if s.discovered] if failover else []

    @property
    def max_payload(self) -> int:
        """The largest message (headers and payload) the server accepts."""
        return self._max_payload

    @property
    def client_id(self) -> int | None:
        """The id the server gave this connection."""
        value = self._supervisor.info.get("client_id")
        return value if isinstance(value, int) else None

    @property
    def connected_server_version(self) -> ServerVersion:
        """The server's version: text with ``.major``, ``.minor``, ``.patch``, ordered."""
        return ServerVersion(self._supervisor.info.get("version", ""))

    @property
    def client_ip(self) -> str | None:
        """This client's address as the server sees it."""
        value = self._supervisor.info.get("client_ip")
        return value if isinstance(value, str) else None

    @property
    def server_info(self) -> dict[str, Any]:
        """The last INFO received from the server."""
        return dict(self._supervisor.info)

    @property
    def last_error(self) -> Exception | None:
        return self._supervisor.last_error

    @property
    def pending_data_size(self) -> int:
        """Bytes published but not yet handed to the transport."""
        return len(self._outbound)

    @property
    def requests(self) -> RequestMultiplexer:
        """The request multiplexer (pending requests, their deadlines, metrics)."""
        return self._requests

    @property
    def pending_requests(self) -> int:
        """How many requests wait for their reply."""
        return len(self._requests.waiting)
