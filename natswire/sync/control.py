"""What the blocking client's server says besides messages (PING, PONG, INFO, -ERR),
the server's INFO, the last error, and the option callbacks (``error_cb``,
``disconnected_cb`` ...), run on the delivery thread."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from ..client.options import ConnectOptions
from ..client.servers import ServerPool
from ..protocol.errors import server_error_from_text
from ..protocol.frames import PING, PONG, Err, Frame, Info
from ..protocol.serializer import PONG_BYTES
from .delivery import DeliveryThread
from .reader import Reader
from .wire import server_max_payload
from .writer import Writer

logger = logging.getLogger("natswire")


class ControlPlane:
    """The control frames of the current link, and the callbacks they lead to."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self.options = ConnectOptions()
        #: The last INFO received from the server.
        self.info: dict[str, Any] = {}
        self.last_error: Exception | None = None
        #: Successful reconnects.
        self.reconnects = 0
        self._pool: ServerPool | None = None
        self._reader: Reader | None = None
        self._delivery: DeliveryThread | None = None

    def configure(
        self, options: ConnectOptions, pool: ServerPool, reader: Reader, delivery: DeliveryThread
    ) -> None:
        self.options = options
        self._pool = pool
        self._reader = reader
        self._delivery = delivery

    def on_control_frame(self, frame: Frame) -> None:
        """A PING, PONG, INFO or -ERR from the current link (on the reader thread)."""
        if frame is PING:
            self._writer.send_urgent(PONG_BYTES)
        elif frame is PONG:
            assert self._reader is not None
            self._reader.pong()
            self._writer.pong_received()
        elif isinstance(frame, Info):
            fields = frame.fields
            self.apply_info({**self.info, **fields})
            max_payload = server_max_payload(fields)
            if max_payload is not None:
                self._writer.max_payload = max_payload
            if fields.get("ldm"):
                self.fire(self.options.lame_duck_mode_cb)
        elif isinstance(frame, Err):
            error = server_error_from_text(frame.message)
            self.note_error(error, True)
            if error.fatal:
                self._writer.abort_link()

    def apply_info(self, info: Mapping[str, Any]) -> None:
        """Keep the server's INFO; merge the cluster's ``connect_urls`` into the pool."""
        self.info = dict(info)
        urls = info.get("connect_urls")
        pool, reader = self._pool, self._reader
        if not isinstance(urls, list) or pool is None or reader is None:
            return
        link = reader.link
        if pool.add_discovered([str(url) for url in urls], tls=bool(link and link.server.tls)):
            self.fire(self.options.discovered_server_cb)

    @staticmethod
    def max_payload(info: Mapping[str, Any]) -> int | None:
        """The ``max_payload`` of a new link's INFO."""
        return server_max_payload(info)

    def note_error(self, error: Exception, report: bool) -> None:
        """Keep ``error`` as :attr:`last_error`; hand it to ``error_cb`` when ``report``."""
        self.last_error = error
        if report:
            self.report_error(error)

    def report_error(self, error: Exception) -> None:
        """Hand an asynchronous error to ``error_cb`` (or the log when there is none)."""
        if self.options.error_cb is None:
            logger.error("natswire: %s", error)
            return
        self.fire(self.options.error_cb, error)

    def count_reconnect(self) -> None:
        self.reconnects += 1
        self.fire(self.options.reconnected_cb)

    def fire(self, cb: Callable[..., Any] | None, *args: Any) -> None:
        """Run a user callback on the delivery thread."""
        if cb is not None and self._delivery is not None:
            self._delivery.submit(cb, *args)
