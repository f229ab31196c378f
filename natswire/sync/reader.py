"""The blocking client's reader thread: reads the socket, dispatches what arrives,
PINGs on schedule, notices a stale link, and reconnects through the server pool.

The decisions are the asyncio client's pure ones, shared: :class:`PingSchedule` (when
to PING, when the link is stale) and :class:`Backoff` (how long before trying a server
again) from :mod:`natswire.client.failover`.
"""

from __future__ import annotations

import random
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic
from typing import Any

from ..client.credentials import NkeyAuth
from ..client.errors import NoServersError, TimeoutError
from ..client.failover import Backoff, PingDecision, PingSchedule
from ..client.options import ConnectOptions
from ..client.servers import Server, ServerPool
from ..protocol.errors import (
    AuthorizationError,
    RemoteProtocolError,
    ServerError,
    StaleConnectionError,
)
from ..protocol.frames import Frame, HMsg, Msg
from .subscription import Subscription
from .wire import Link, open_link


@dataclass(frozen=True, slots=True)
class ReaderHooks:
    """The calls the reader thread makes into its client: private methods of the client,
    handed over when it makes its reader."""

    #: Whether the client is closing (no reconnect; the thread ends).
    is_ending: Callable[[], bool]
    #: A PING, PONG, INFO or -ERR arrived.
    on_control_frame: Callable[[Frame], None]
    #: Write a PING or PONG without waiting on publishers.
    send_urgent: Callable[[bytes], None]
    #: A link is connected: resubscribe, resend, go CONNECTED; ``False`` when the client
    #: closed meanwhile.
    link_up: Callable[[Link, dict[str, Any]], bool]
    #: The link is gone (why, or ``None`` for a clean EOF); whether to reconnect (else
    #: the client closes).
    link_down: Callable[[Exception | None], bool]
    #: No server can be reached any more: close with this error.
    give_up: Callable[[Exception], None]
    #: Keep an error as the last one; hand it to ``error_cb`` when ``report``.
    note_error: Callable[[Exception, bool], None]
    #: A reconnect succeeded (fires ``reconnected_cb``).
    reconnected: Callable[[], None]


class Reader:
    """The reader thread of one client, from its first link to the client's close."""

    def __init__(
        self,
        host: ReaderHooks,
        options: ConnectOptions,
        subscriptions: dict[bytes, Subscription],
        pool: ServerPool,
        tls_context: ssl.SSLContext | None,
        credentials: NkeyAuth | None,
    ) -> None:
        self._host = host
        self._options = options
        self._subs = subscriptions
        self.pool = pool
        self._tls_context = tls_context
        self._credentials = credentials
        self._backoff = Backoff(options, options.rng or random.Random())
        self._pings = PingSchedule(options.ping_interval, options.max_outstanding_pings)
        #: Set when the client closes: ends a reconnect pause at once.
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.link: Link | None = None

    def connect(self, server: Server) -> tuple[Link, dict[str, Any]]:
        """Open a link to ``server`` (hand-shaken)."""
        return open_link(server, self._options, self._tls_context, self._credentials)

    def connect_first(self) -> tuple[Link | None, dict[str, Any]]:
        """Connect to the first server of the pool that answers. When none does, return
        ``(None, {})`` if ``retry_on_failed_connect`` lets the reader thread keep trying,
        else raise :class:`NoServersError`; a server that refuses us raises its error
        (unless retrying)."""
        options = self._options
        errors: list[Exception] = []
        for server in list(self.pool.servers):
            try:
                return self.connect(server)
            except ServerError as exc:
                if not options.retry_on_failed_connect:
                    raise
                errors.append(exc)
            except (OSError, TimeoutError) as exc:
                errors.append(exc)
        if options.retry_on_failed_connect and options.allow_reconnect:
            return None, {}
        raise NoServersError(
            "could not connect to any server: "
            + "; ".join(f"{type(exc).__name__}: {exc}" for exc in errors)
        ) from (errors[-1] if errors else None)

    def start(self, link: Link | None) -> None:
        """Read ``link`` (already made current by the client) on a new thread; without
        one, reconnect first."""
        self.link = link
        self._thread = threading.Thread(target=self._run, name="natswire-sync-reader", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def pong(self) -> None:
        """A PONG arrived: the link is alive."""
        self._pings.pong()

    def _run(self) -> None:
        host = self._host
        if self.link is None and not self._reconnect():
            return
        while True:
            link = self.link
            assert link is not None
            error = self._read(link)
            link.close()
            if host.is_ending() or not host.link_down(error):
                return
            if not self._reconnect():
                return

    def _read(self, link: Link) -> Exception | None:
        """Read and dispatch until the link ends; the reason it ended."""
        host, subs, pings = self._host, self._subs, self._pings
        pings.start(monotonic())
        parser = link.parser
        frames: list[Frame] = link.early_frames
        link.early_frames = []
        failure: RemoteProtocolError | None = None
        while True:
            for frame in frames:
                cls = frame.__class__
                if cls is Msg or cls is HMsg:
                    sub = subs.get(frame.sid)  # type: ignore[union-attr]
                    if sub is not None:
                        sub.deliver(frame)  # type: ignore[arg-type]
                else:
                    host.on_control_frame(frame)
            if failure is not None:
                return failure  # after the frames that arrived intact before the bad bytes
            if monotonic() >= pings.next_due:
                decision = pings.due(monotonic())
                if decision is PingDecision.STALE:
                    error = StaleConnectionError(
                        f"stale connection: {pings.outstanding} PINGs unanswered"
                    )
                    host.note_error(error, True)
                    return error
                if decision is PingDecision.PING:
                    host.send_urgent(b"PING\r\n")
            try:
                data = link.recv(pings.next_due - monotonic())
            except OSError as exc:
                return exc
            if data is None:
                frames = []
                continue
            if not data:
                return None
            try:
                frames = parser.receive_data(data)
            except RemoteProtocolError as exc:
                host.note_error(exc, True)
                failure, frames = exc, list(exc.frames)

    def _reconnect(self) -> bool:
        """Try the pool's servers until one answers (``True``), the attempts run out or
        the client closes (``False``)."""
        host, options, pool = self._host, self._options, self.pool
        while not host.is_ending():
            server = pool.next_server(options.max_reconnect_attempts)
            if server is None:
                host.give_up(
                    NoServersError("no server could be reached: reconnect attempts exhausted")
                )
                return False
            delay = self._backoff.delay(server.attempts) - (monotonic() - server.last_attempt)
            if delay > 0 and self.stopping.wait(delay):
                return False
            if host.is_ending():
                return False
            try:
                link, info = self.connect(server)
            except Exception as exc:
                server.attempts += 1
                host.note_error(exc, isinstance(exc, ServerError))
                if isinstance(exc, AuthorizationError):
                    server.skipped = server.last_auth_error == str(exc)
                    server.last_auth_error = str(exc)
                continue
            server.last_auth_error = None
            self.link = link
            if not host.link_up(link, info):
                link.close()
                return False
            host.reconnected()
            return True
        return False
