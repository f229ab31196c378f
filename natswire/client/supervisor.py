"""The client's supervisor: its server connection, what that connection reports, and
failing over to another server.

Every :class:`~natswire.client.connection.ServerConnection` and
:class:`~natswire.client.subscription.Subscription` of a client talks to its
:class:`Supervisor` (which implements :class:`~natswire.client.ports.ConnectionOwner`,
:class:`~natswire.client.ports.SubscriptionOwner` and
:class:`~natswire.client.failover.FailoverHost`), so none of that plumbing is on the
client's public API. The supervisor keeps what the publish path never reads: the
connection and its server, the server's INFO, the last error, the flushes waiting for a
PONG and the :class:`~natswire.client.failover.Failover`. What it changes on the
client's write side (the transport, write pausing, the payload limit, the state) it
changes through the :class:`ClientHooks` the client hands it.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..protocol.errors import RemoteProtocolError, ServerError, server_error_from_text
from ..protocol.frames import PING, PONG, Err, Frame, Info
from ..protocol.serializer import PING_BYTES, PONG_BYTES, encode_sub, encode_unsub
from .callbacks import Callbacks
from .connect_info import tls_context
from .credentials import NkeyAuth, load_nkey_auth
from .errors import (
    ConnectionClosedError,
    ConnectTimeoutError,
    NoServersError,
    SecureConnectionFailedError,
    TimeoutError,
)
from .failover import Failover
from .handshake import Handshake, apply_info
from .options import ConnectOptions
from .ports import MessageClient
from .servers import Server
from .state import CLOSED, CONNECTED, ENDING, RECONNECTING, UP, Status
from .stats import Counters

if TYPE_CHECKING:
    from .connection import ServerConnection
    from .subscription import Subscription


def no_servers_error(errors: list[Exception]) -> NoServersError:
    """The error a first connect raises when no server could be reached: also what
    nats-py raised for the last failure, an ``ssl.SSLError`` or a ``TimeoutError``."""
    text = "could not connect to any server: " + "; ".join(
        f"{type(exc).__name__}: {exc}" for exc in errors
    )
    last = errors[-1] if errors else None
    if isinstance(last, ssl.SSLError):
        return SecureConnectionFailedError(text)
    if isinstance(last, (asyncio.TimeoutError, TimeoutError)):
        return ConnectTimeoutError(text)
    return NoServersError(text)


class SupervisedClient(MessageClient, Protocol):
    """The client as its supervisor sees it: its state, publish and flush."""

    @property
    def status(self) -> Status: ...


@dataclass(frozen=True, slots=True)
class ClientHooks:
    """The calls the supervisor makes into its client's write side and state: private
    methods of the client, handed over when it makes its supervisor."""

    #: Change the client's state (checked against :mod:`.state`).
    move_to: Callable[[Status], None]
    #: A connection is up: write to this transport, first ``head`` (the subscriptions),
    #: then what was buffered, then ``tail`` (PINGs).
    connection_up: Callable[[asyncio.Transport, bytes, bytes], None]
    #: The connection is gone: buffer from now on, wake publishers waiting to write.
    connection_down: Callable[[], None]
    #: The transport's buffer filled (``True``) or drained (``False``).
    set_write_paused: Callable[[bool], None]
    #: Queue a control line behind what is buffered; ``True``: and write it now.
    send_control: Callable[[bytes, bool], None]
    #: The server's ``max_payload`` changed.
    set_max_payload: Callable[[int], None]
    #: Begin closing the client.
    start_close: Callable[[], None]


class Supervisor:
    """The owner of a client's connections and subscriptions; see the module docs."""

    def __init__(
        self,
        client: SupervisedClient,
        subscriptions: dict[bytes, Subscription],
        counters: Counters,
        callbacks: Callbacks,
        hooks: ClientHooks,
    ) -> None:
        #: The client, for subscriptions and the messages they deliver.
        self.client = client
        self.options = ConnectOptions()
        self.failover: Failover | None = None
        #: The current connection and its server, or ``None``.
        self.conn: ServerConnection | None = None
        self.server: Server | None = None
        #: The last INFO received from the server.
        self.info: dict[str, Any] = {}
        self.last_error: Exception | None = None
        #: One entry per PING sent, in order: the flush its PONG resolves, or ``None``.
        self.pongs: deque[asyncio.Future[None] | None] = deque()
        self._subscriptions = subscriptions
        self._counters = counters
        self._callbacks = callbacks
        self._hooks = hooks
        # From nkeys_seed(_str), user_credentials or signature_cb.
        self._credentials: NkeyAuth | None = None
        self._tls_context: ssl.SSLContext | None = None
        #: Plain functions called after each successful reconnect, once the
        #: subscriptions are restored (JetStream consumers recover from them).
        self.reconnect_listeners: list[Callable[[], None]] = []
        #: Plain functions called when the link drops and a reconnect begins, before
        #: anything is restored (a subscription dropped then is not restored).
        self.disconnect_listeners: list[Callable[[], None]] = []

    @property
    def status(self) -> Status:
        return self.client.status

    # ------------------------------------------------------------------ connect

    def configure(self, options: ConnectOptions) -> None:
        """Take the options of a new ``connect()``: credentials, TLS, a new server pool.
        Raises when the credentials or the TLS files cannot be read."""
        self.options = options
        self._credentials = load_nkey_auth(options)
        self._tls_context = tls_context(options.tls)
        self.failover = Failover(self, options, options.rng or random.Random())

    async def connect(self) -> None:
        """Connect to the first server of the pool that answers; else, when
        ``retry_on_failed_connect`` allows, keep trying in the background. Raises when
        a server refuses us (without retry) or none answers."""
        options, failover = self.options, self.failover
        assert failover is not None
        move_to = self._hooks.move_to
        errors: list[Exception] = []
        for server in list(failover.pool.servers):
            try:
                await self.connect_to(server)
            except ServerError as exc:
                # As nats-py: every failed attempt goes to error_cb.
                self.note_error(exc, report=True)
                if not options.retry_on_failed_connect:
                    move_to(CLOSED)
                    raise
                errors.append(exc)
            except (OSError, asyncio.TimeoutError, TimeoutError, ssl.SSLError) as exc:
                self.note_error(exc, report=True)
                errors.append(exc)
            else:
                return
        if options.retry_on_failed_connect and options.allow_reconnect:
            move_to(RECONNECTING)
            failover.start_reconnecting()
            return
        move_to(CLOSED)
        raise no_servers_error(errors) from (errors[-1] if errors else None)

    async def connect_to(self, server: Server) -> None:
        """Hand-shake with ``server`` and make it the current connection: resubscribe,
        send what was buffered, start pinging. A connection it replaces (lame duck)
        stops dispatching first and is then closed. Raises when the handshake fails."""
        handshake = Handshake(
            server, self.options, self._tls_context, self._credentials, self._counters
        )
        conn, info = await handshake.run()
        if self.status in ENDING:
            conn.abort()
            raise ConnectionClosedError("the client was closed during the handshake")
        assert conn.transport is not None and self.failover is not None
        old_conn = self.conn
        if old_conn is not None:
            old_conn.detach()
        self.conn = conn
        self.server = server
        self.failover.pool.connected(server)
        self._apply_info(conn, info)
        conn.attach(self, self._subscriptions)
        self.failover.discover_servers(self.info)
        if self.status is not CONNECTED:
            self._hooks.move_to(CONNECTED)
        subscriptions = bytearray()
        for sub in self._subscriptions.values():
            subscriptions += encode_sub(sub.subject, sub.sid, sub.queue or None)
            if sub.max_msgs:
                subscriptions += encode_unsub(sub.sid, max(sub.max_msgs - sub.delivered, 0))
        # Flushes that were waiting when the link went down get a PING of their own.
        waiting = [f for f in self.pongs if f is not None and not f.done()]
        self.pongs = deque(waiting)
        self._hooks.connection_up(conn.transport, bytes(subscriptions), PING_BYTES * len(waiting))
        self.failover.start_pinging()
        if old_conn is not None and old_conn.transport is not None:
            old_conn.transport.close()

    def _apply_info(self, conn: ServerConnection, info: dict[str, Any]) -> None:
        self.info = dict(info)
        max_payload = apply_info(conn, info)
        if max_payload is not None:
            self._hooks.set_max_payload(max_payload)

    # ------------------------------------------- what the connection reports

    def on_control_frame(self, conn: ServerConnection, frame: Frame) -> None:
        """A PING, PONG, INFO or -ERR from the current connection."""
        if frame is PING:
            if conn.transport is not None:
                conn.transport.write(PONG_BYTES)
        elif frame is PONG:
            assert self.failover is not None
            self.failover.pings.pong()
            if self.pongs:
                future = self.pongs.popleft()
                if future is not None and not future.done():
                    future.set_result(None)
        elif isinstance(frame, Info):
            assert self.failover is not None
            fields = frame.fields
            self._apply_info(conn, {**self.info, **fields})
            self.failover.discover_servers(fields)
            if fields.get("ldm"):
                self.failover.lame_duck()
        elif isinstance(frame, Err):
            self._counters.errors_received += 1
            error = server_error_from_text(frame.message)
            self.note_error(error, report=True)
            if error.fatal and conn.transport is not None:
                conn.transport.close()

    def on_protocol_error(self, conn: ServerConnection, error: RemoteProtocolError) -> None:
        """The server sent bytes that are not NATS: report it, drop the connection."""
        self.note_error(error, report=True)
        conn.abort()

    def on_connection_lost(self, conn: ServerConnection, exc: Exception | None) -> None:
        """The current connection is gone: reconnect, or close."""
        if conn is not self.conn:
            return
        self.conn = None
        assert self.failover is not None
        self.failover.connection_lost()
        # Publishers waiting for the old transport to drain now fill the reconnect buffer.
        self._hooks.connection_down()
        status = self.status
        if status in ENDING:
            return
        self.fire(self.options.disconnected_cb)
        if self.options.allow_reconnect and status in UP:
            self._hooks.move_to(RECONNECTING)
            for listener in list(self.disconnect_listeners):
                try:
                    listener()
                except Exception as exc:
                    self.report_error(exc)
            self.failover.start_reconnecting()
        else:
            self._hooks.start_close()

    def on_pause_writing(self, conn: ServerConnection) -> None:
        """The connection's transport buffer is full: stop writing to it."""
        if conn is self.conn:
            self._hooks.set_write_paused(True)

    def on_resume_writing(self, conn: ServerConnection) -> None:
        """The connection's transport buffer drained: write again, wake publishers."""
        if conn is self.conn:
            self._hooks.set_write_paused(False)

    # ------------------------------------------------------------------- errors

    def report_error(self, error: Exception) -> None:
        """Hand an asynchronous error to ``error_cb`` (or the log when there is none)."""
        self._callbacks.report_error(error, self.options.error_cb)

    def note_error(self, error: Exception, *, report: bool) -> None:
        """Keep ``error`` as :attr:`last_error`; also :meth:`report_error` it if ``report``."""
        self.last_error = error
        if report:
            self.report_error(error)

    def fire(self, cb: Callable[..., Any] | None, *args: Any) -> asyncio.Task[Any] | None:
        """Call a user callback, plain or coroutine function, without blocking on it."""
        return self._callbacks.fire(cb, *args)

    # ------------------------------------------------------ what failover asks

    @property
    def current_server(self) -> Server | None:
        """The server of the current connection, or ``None`` while there is none."""
        return self.server if self.conn is not None else None

    def send_ping(self) -> None:
        """Send a PING now; its PONG resolves no flush."""
        self.pongs.append(None)
        self._hooks.send_control(PING_BYTES, True)

    def abort_connection(self) -> None:
        """Drop the current connection at once (a stale link)."""
        if self.conn is not None:
            self.conn.abort()

    def count_reconnect(self) -> None:
        self._counters.reconnects += 1
        for listener in list(self.reconnect_listeners):
            try:
                listener()
            except Exception as exc:
                self.report_error(exc)

    def start_close(self) -> None:
        """Begin closing the client (reconnect attempts are exhausted)."""
        self._hooks.start_close()

    # ------------------------------------------------- what subscriptions ask

    def send_unsubscribe(self, sub: Subscription, limit: int) -> None:
        """Send ``UNSUB`` for ``sub`` (after ``limit`` messages in all; 0: now)."""
        self._hooks.send_control(encode_unsub(sub.sid, limit or None), False)

    def forget_subscription(self, sub: Subscription) -> None:
        """Deliver nothing more to ``sub``."""
        self._subscriptions.pop(str(sub.sid).encode(), None)

    def count_slow_consumer_drop(self) -> None:
        """A subscription dropped a message: its pending limits were reached."""
        self._counters.slow_consumer_drops += 1

    def transport_buffer_size(self) -> int:
        """Bytes the current connection's transport holds, not yet written."""
        transport = self.conn.transport if self.conn is not None else None
        if transport is None:
            return 0
        try:
            return int(transport.get_write_buffer_size())
        except (AttributeError, RuntimeError, NotImplementedError):
            return 0

    # ------------------------------------------------------------------ closing

    async def close_connection(self, last_bytes: bytes) -> bool:
        """The client closes: stop failing over, write ``last_bytes``, close the
        connection and wait (a second at most) until it is gone. Whether there was one."""
        conn = self.conn
        if self.failover is not None:
            self.failover.stop()
        if conn is None or conn.transport is None:
            return conn is not None
        if last_bytes:
            conn.transport.write(last_bytes)
        conn.transport.close()
        try:
            await asyncio.wait_for(asyncio.shield(conn.lost), 1.0)
        except asyncio.TimeoutError:
            conn.transport.abort()
        self.conn = None
        return True

    def closed_error(self) -> Exception:
        """What pending work fails with once closed: the reason reconnecting gave up,
        else :class:`ConnectionClosedError`."""
        if isinstance(self.last_error, NoServersError):
            return self.last_error
        return ConnectionClosedError("connection closed")

    def fail_flushes(self, error: Exception) -> None:
        """Fail every flush still waiting for its PONG with ``error``."""
        while self.pongs:
            pong = self.pongs.popleft()
            if pong is not None and not pong.done():
                pong.set_exception(error)
