"""The blocking client's read-only properties: its state, server and last error."""

from __future__ import annotations

from typing import Any

from ..client.state import CLOSED, CONNECTED, RECONNECTING, Status
from .control import ControlPlane
from .reader import Reader
from .writer import Writer


class ClientView:
    """What a blocking client shows of itself (the base of
    :class:`natswire.sync.Client`)."""

    _writer: Writer
    _control: ControlPlane
    _reader: Reader | None

    @property
    def status(self) -> Status:
        return self._writer.status

    @property
    def is_connected(self) -> bool:
        return self._writer.status is CONNECTED

    @property
    def is_closed(self) -> bool:
        return self._writer.status is CLOSED

    @property
    def is_reconnecting(self) -> bool:
        return self._writer.status is RECONNECTING

    @property
    def server_info(self) -> dict[str, Any]:
        """The last INFO the server sent."""
        return dict(self._control.info)

    @property
    def connected_url(self) -> str | None:
        """The URL of the server connected to, or ``None``."""
        reader = self._reader
        link = reader.link if reader is not None else None
        return link.server.url if link is not None and self.is_connected else None

    @property
    def last_error(self) -> Exception | None:
        return self._control.last_error

    @property
    def max_payload(self) -> int:
        """The server's ``max_payload``: the largest message it takes."""
        return self._writer.max_payload

    @property
    def reconnects(self) -> int:
        """Successful reconnects so far."""
        return self._control.reconnects
