"""The NATS client: connect, publish, subscribe, request, flush, drain, close.

A drop-in for the common calls of nats-py's ``NATS`` class. Publishing appends
encoded frames to an outbound buffer that is written once per event-loop iteration
(or as soon as it passes a threshold); received messages are dispatched inside
``data_received``. After a disconnect the client reconnects through its server
pool, resubscribes, then sends what was published meanwhile.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import logging
import random
import secrets
import ssl
from collections import deque
from collections.abc import Callable, Mapping
from time import monotonic
from typing import Any, TypeAlias

from .._version import __version__
from ..protocol.errors import (
    AuthorizationError,
    MaxPayloadError,
    NatsWireError,
    RemoteProtocolError,
    SecureConnectionRequiredError,
    ServerError,
    StaleConnectionError,
    server_error_from_text,
)
from ..protocol.frames import PING, PONG, Err, Frame, Info, Msg
from ..protocol.headers import HeadersLike, encode_headers
from ..protocol.limits import DEFAULT_MAX_PAYLOAD
from ..protocol.serializer import (
    PING_BYTES,
    PONG_BYTES,
    encode_connect,
    encode_sub,
    encode_unsub,
    publish_subject,
    reply_subject,
    subscribe_subject,
)
from . import nkeys
from .connection import ServerConnection
from .deadlines import RequestDeadlines
from .errors import (
    BadTimeoutError,
    ConnectionClosedError,
    ConnectionDrainingError,
    FlushTimeoutError,
    NoRespondersError,
    NoServersError,
    OutboundBufferFullError,
    TimeoutError,
)
from .message import Message
from .metrics import HistogramSnapshot, LatencyHistogram, SubscriptionPending
from .options import (
    DEFAULT_SUB_PENDING_BYTES_LIMIT,
    DEFAULT_SUB_PENDING_MSGS_LIMIT,
    OPTION_NAMES,
    ConnectOptions,
)
from .servers import Server, ServerPool
from .subscription import MessageCallback, Subscription

logger = logging.getLogger("natswire")


class Status(enum.Enum):
    """Where a client is in its life."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DRAINING = "draining"
    CLOSED = "closed"


DISCONNECTED = Status.DISCONNECTED
CONNECTING = Status.CONNECTING
CONNECTED = Status.CONNECTED
RECONNECTING = Status.RECONNECTING
DRAINING = Status.DRAINING
CLOSED = Status.CLOSED

#: Write the outbound buffer at once when it grows past this many bytes.
WRITE_THRESHOLD = 64 * 1024
#: While the transport is paused, publishers wait once this much is buffered.
PAUSED_BUFFER_LIMIT = 4 * 1024 * 1024
#: Inbound frames may exceed the server's max_payload only by this factor.
_INBOUND_PAYLOAD_SLACK = 2
_MIN_INBOUND_PAYLOAD_LIMIT = 64 * 1024 * 1024
_NO_RESPONDERS_STATUS = b"NATS/1.0 503"
_PREFIX_CACHE_ENTRIES = 4096
# Payload size -> its "<size>\r\n" ending of a PUB line, for the publish fast path.
_SIZE_LINES: dict[int, bytes] = {}


def _size_line(size: int) -> bytes:
    line = b"%d\r\n" % size
    if len(_SIZE_LINES) < _PREFIX_CACHE_ENTRIES:
        _SIZE_LINES[size] = line
    return line


#: A request waiting for its reply: (future, subject, timeout).
_PendingRequest: TypeAlias = "tuple[asyncio.Future[Message], str, float]"


class Stats:
    """Counters and metrics of one client, read when asked.

    The nats-py counters (``in_msgs``, ``out_msgs``, ``in_bytes``, ``out_bytes``,
    ``reconnects``, ``errors_received``) work as attributes and as ``stats["in_msgs"]``;
    :meth:`as_dict` gives those. The rest is derived when read, so the message paths
    pay nothing for it: asynchronous errors by class, failed requests by class,
    slow-consumer drops, pending messages per subscription, the request latency
    histogram and outbound buffer use. :meth:`snapshot` gives everything as plain data.
    """

    __slots__ = ("_client",)

    KEYS = ("in_msgs", "out_msgs", "in_bytes", "out_bytes", "reconnects", "errors_received")

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def in_msgs(self) -> int:
        return self._client._in_msgs

    @property
    def out_msgs(self) -> int:
        return self._client._out_msgs

    @property
    def in_bytes(self) -> int:
        return self._client._in_bytes

    @property
    def out_bytes(self) -> int:
        return self._client._out_bytes

    @property
    def reconnects(self) -> int:
        return self._client._reconnects

    @property
    def errors_received(self) -> int:
        """``-ERR`` lines received from the server."""
        return self._client._errors_received

    @property
    def errors(self) -> dict[str, int]:
        """Asynchronous errors (those given to ``error_cb``) by class name."""
        return dict(self._client._errors_by_class)

    @property
    def request_failures(self) -> dict[str, int]:
        """Requests that raised (timeout, no responders, ...) by class name."""
        return dict(self._client._request_failures)

    @property
    def slow_consumer_drops(self) -> int:
        """Messages dropped because a subscription's pending limits were reached."""
        return self._client._slow_consumer_drops

    @property
    def request_latency(self) -> HistogramSnapshot:
        """Seconds from sending a request to its reply, as a fixed-bucket histogram."""
        return self._client._request_latency.snapshot()

    @property
    def subscriptions(self) -> list[SubscriptionPending]:
        """Each live subscription with its pending, delivered and dropped messages."""
        return [
            SubscriptionPending(
                sub.sid,
                sub.subject,
                sub.queue,
                sub.pending_msgs,
                sub.pending_bytes,
                sub.delivered,
                sub.dropped,
            )
            for sub in list(self._client._subscriptions.values())
        ]

    @property
    def pending_msgs(self) -> int:
        """Messages delivered to subscriptions and not yet taken, in all."""
        return sum(sub.pending_msgs for sub in list(self._client._subscriptions.values()))

    @property
    def pending_bytes(self) -> int:
        return sum(sub.pending_bytes for sub in list(self._client._subscriptions.values()))

    @property
    def outbound_buffer_bytes(self) -> int:
        """Bytes published but not yet handed to the transport (while disconnected: the
        reconnect buffer, bounded by the ``pending_size`` option)."""
        return len(self._client._outbound)

    @property
    def outbound_buffer_limit(self) -> int:
        return int(self._client.options.pending_size)

    @property
    def transport_buffer_bytes(self) -> int:
        """Bytes the transport holds, not yet written to the socket."""
        transport = self._client._transport
        if transport is None:
            return 0
        try:
            return int(transport.get_write_buffer_size())
        except (AttributeError, RuntimeError, NotImplementedError):
            return 0

    def __getitem__(self, key: str) -> int:
        if key not in self.KEYS:
            raise KeyError(key)
        value: int = getattr(self, key)
        return value

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict (nats-py's ``stats`` shape)."""
        return {key: self[key] for key in self.KEYS}

    def snapshot(self) -> dict[str, Any]:
        """Every counter and metric as plain, JSON-serializable data."""
        client = self._client
        return {
            **self.as_dict(),
            "status": client.status.value,
            "connected_url": client.connected_url,
            "errors": self.errors,
            "request_failures": self.request_failures,
            "slow_consumer_drops": self.slow_consumer_drops,
            "request_latency": self.request_latency.as_dict(),
            "pending_msgs": self.pending_msgs,
            "pending_bytes": self.pending_bytes,
            "subscriptions": [_pending_as_dict(sub) for sub in self.subscriptions],
            "outbound_buffer_bytes": self.outbound_buffer_bytes,
            "outbound_buffer_limit": self.outbound_buffer_limit,
            "transport_buffer_bytes": self.transport_buffer_bytes,
        }

    def __repr__(self) -> str:
        return f"Stats({self.as_dict()})"


def _pending_as_dict(item: SubscriptionPending) -> dict[str, Any]:
    return {
        "sid": item.sid,
        "subject": item.subject,
        "queue": item.queue,
        "pending_msgs": item.pending_msgs,
        "pending_bytes": item.pending_bytes,
        "delivered": item.delivered,
        "dropped": item.dropped,
    }


class Client:
    """A connection to NATS. Create it with :func:`natswire.connect`."""

    def __init__(self) -> None:
        self.options = ConnectOptions()
        self._status = DISCONNECTED
        self._pool: ServerPool | None = None
        self._server: Server | None = None
        self._conn: ServerConnection | None = None
        self._transport: asyncio.Transport | None = None
        self._server_info: dict[str, Any] = {}
        self._max_payload = DEFAULT_MAX_PAYLOAD
        self._subscriptions: dict[bytes, Subscription] = {}
        self._next_sid = 1
        self._outbound = bytearray()
        # "PUB <subject> " for subjects already validated, keyed as the caller passed them.
        self._pub_prefixes: dict[str | bytes, bytes] = {}
        self._flush_scheduled = False
        self._write_paused = False
        self._writable: asyncio.Future[None] | None = None
        self._pongs: deque[asyncio.Future[None] | None] = deque()
        self._pings_outstanding = 0
        self._ping_timer: asyncio.TimerHandle | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._migration: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._callback_tasks: set[asyncio.Task[Any]] = set()
        self._inbox_prefix = b""
        # Pending requests by reply subject: (future, subject, timeout).
        self._responses: dict[bytes, _PendingRequest] = {}
        self._response_sub: Subscription | None = None
        self._response_prefix = b""
        self._next_token = 0
        self._deadlines = RequestDeadlines(self._responses, self._expire_request)
        self._last_error: Exception | None = None
        # (user JWT or "", nkey seed) from nkeys_seed or user_credentials.
        self._credentials: tuple[str, str] | None = None
        self._tls_context: ssl.SSLContext | None = None
        self._rng = random.Random()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_future: Callable[[], asyncio.Future[Any]] = _create_future
        self._in_msgs = 0
        self._out_msgs = 0
        self._in_bytes = 0
        self._out_bytes = 0
        self._reconnects = 0
        self._errors_received = 0
        # Metrics read by Stats; none of these is touched per message.
        self._errors_by_class: dict[str, int] = {}
        self._request_failures: dict[str, int] = {}
        self._slow_consumer_drops = 0
        self._request_latency = LatencyHistogram()
        self.stats = Stats(self)

    # ------------------------------------------------------------------ connect

    async def connect(
        self,
        servers: str | list[str] | None = None,
        *,
        options: ConnectOptions | None = None,
        **kwargs: Any,
    ) -> Client:
        """Connect to the first server of the pool that answers.

        Keywords are :class:`ConnectOptions` fields (nats-py's names); they override
        ``options`` when both are given.
        """
        unknown = set(kwargs) - OPTION_NAMES
        if unknown:
            raise TypeError(f"unknown connect option(s): {', '.join(sorted(unknown))}")
        if servers:
            kwargs["servers"] = servers
        options = ConnectOptions(**kwargs) if options is None else options.with_changes(**kwargs)
        if self._status not in (DISCONNECTED, CLOSED):
            raise NatsWireError("client is already connected")
        self.options = options
        self._credentials = _load_credentials(options)
        self._tls_context = _tls_context(options.tls)
        self._loop = asyncio.get_running_loop()
        self._new_future = _future_factory(self._loop)
        self._inbox_prefix = f"{options.inbox_prefix}.{secrets.token_hex(11)}".encode()
        self._rng = options.rng or random.Random()
        self._pool = ServerPool(
            list(options.servers), randomize=not options.dont_randomize, rng=self._rng
        )
        self._status = CONNECTING
        errors: list[Exception] = []
        for server in list(self._pool.servers):
            try:
                await self._connect_to(server)
            except ServerError as exc:
                if not options.retry_on_failed_connect:
                    self._status = CLOSED
                    raise
                errors.append(exc)
            except (OSError, asyncio.TimeoutError, TimeoutError, ssl.SSLError) as exc:
                errors.append(exc)
            else:
                self._on_connected()
                return self
        if options.retry_on_failed_connect and options.allow_reconnect:
            self._status = RECONNECTING
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())
            return self
        self._status = CLOSED
        raise NoServersError(
            "could not connect to any server: "
            + "; ".join(f"{type(exc).__name__}: {exc}" for exc in errors)
        ) from (errors[-1] if errors else None)

    async def _connect_to(self, server: Server) -> None:
        """Open a transport, do the INFO/CONNECT/PING/PONG handshake; raise on failure."""
        loop = asyncio.get_running_loop()
        options = self.options
        conn = ServerConnection(self, self._subscriptions)
        server.last_attempt = loop.time()

        async def handshake() -> None:
            context = self._tls_context
            wants_tls = server.tls or context is not None
            hostname = options.tls_hostname or server.tls_name or server.host
            if options.tls_handshake_first:
                await loop.create_connection(
                    lambda: conn,
                    server.host,
                    server.port,
                    ssl=context or ssl.create_default_context(),
                    server_hostname=hostname,
                )
                info = await conn.info
            else:
                transport, _ = await loop.create_connection(lambda: conn, server.host, server.port)
                info = await conn.info
                if info.get("tls_required") or (wants_tls and info.get("tls_available")):
                    new_transport = await loop.start_tls(
                        transport,
                        conn,
                        context or ssl.create_default_context(),
                        server_hostname=hostname,
                    )
                    if new_transport is None:
                        raise ConnectionResetError("connection closed during the TLS handshake")
                    conn.transport = new_transport
                elif wants_tls:
                    raise SecureConnectionRequiredError(
                        f"TLS was requested but {server.url} does not offer TLS"
                    )
            self._apply_info(conn, info)
            assert conn.transport is not None
            conn.transport.write(encode_connect(self._connect_fields(server, info)) + PING_BYTES)
            await conn.handshake

        try:
            await asyncio.wait_for(handshake(), options.connect_timeout)
        except asyncio.TimeoutError:
            _abort(conn)
            raise TimeoutError(
                f"handshake with {server.url} took longer than {options.connect_timeout} s"
            ) from None
        except BaseException:
            _abort(conn)
            raise
        conn.handshaking = False
        self._conn = conn
        self._transport = conn.transport
        self._server = server
        server.attempts = 0

    def _connect_fields(self, server: Server, info: Mapping[str, Any]) -> dict[str, Any]:
        options = self.options
        fields: dict[str, Any] = {
            "verbose": options.verbose,
            "pedantic": options.pedantic,
            "lang": "python",
            "version": __version__,
            "protocol": 1,
            "tls_required": server.tls or self._tls_context is not None,
        }
        if info.get("headers"):
            fields["headers"] = True
            fields["no_responders"] = True
        if options.no_echo:
            fields["echo"] = False
        if options.name:
            fields["name"] = options.name
        user = options.user or server.user
        password = options.password if options.user else server.password
        token = options.token or server.token
        nonce = info.get("nonce")
        if self._credentials is not None:
            jwt, seed = self._credentials
            if jwt:
                fields["jwt"] = jwt
            else:
                fields["nkey"] = nkeys.KeyPair.from_seed(seed).public_key
            if isinstance(nonce, str):
                fields["sig"] = nkeys.sign_nonce(seed, nonce)
        if user:
            fields["user"] = user
            fields["pass"] = password or ""
        elif token:
            fields["auth_token"] = token
        fields.update(options.extra)
        return fields

    def _apply_info(self, conn: ServerConnection, info: Mapping[str, Any]) -> None:
        self._server_info = dict(info)
        max_payload = info.get("max_payload")
        if isinstance(max_payload, int) and max_payload > 0:
            self._max_payload = max_payload
            conn.parser.max_payload = max(
                _MIN_INBOUND_PAYLOAD_LIMIT, max_payload * _INBOUND_PAYLOAD_SLACK
            )

    def _discover_servers(self, info: Mapping[str, Any]) -> None:
        """Merge the cluster's ``connect_urls`` into the server pool."""
        urls = info.get("connect_urls")
        if self._pool is None or not isinstance(urls, list):
            return
        server = self._server
        if self._pool.add_discovered([str(url) for url in urls], tls=bool(server and server.tls)):
            self._fire(self.options.discovered_server_cb)

    def _on_connected(self) -> None:
        """The handshake is done: resubscribe, send what was buffered, start pinging."""
        assert self._transport is not None
        self._discover_servers(self._server_info)
        self._status = CONNECTED
        self._write_paused = False
        self._pings_outstanding = 0
        transport = self._transport
        transport.set_write_buffer_limits(high=1024 * 1024)
        resend = bytearray()
        for sub in self._subscriptions.values():
            resend += encode_sub(sub.subject, sub.sid, sub.queue or None)
            if sub.max_msgs:
                resend += encode_unsub(sub.sid, max(sub.max_msgs - sub.delivered, 0))
        resend += self._outbound
        # Flushes that were waiting when the link went down get a PING of their own.
        waiting = [f for f in self._pongs if f is not None and not f.done()]
        self._pongs = deque(waiting)
        resend += PING_BYTES * len(waiting)
        self._outbound = bytearray()
        if resend:
            transport.write(resend)
        self._schedule_ping()

    # ------------------------------------------------------------------ publish

    async def publish(
        self,
        subject: str | bytes,
        payload: bytes | bytearray | memoryview = b"",
        reply: str | bytes = "",
        headers: HeadersLike | None = None,
    ) -> None:
        """Publish ``payload`` to ``subject``.

        Raises :class:`BadSubjectError` for an invalid subject, ``TypeError`` for a
        payload that is not bytes-like, :class:`MaxPayloadError` when headers and
        payload exceed the server's ``max_payload``, and
        :class:`OutboundBufferFullError` when disconnected with a full reconnect buffer.
        The connection stays usable after each of them.
        """
        prefix = self._pub_prefixes.get(subject)
        if prefix is not None and headers is None and not reply and payload.__class__ is bytes:
            # _enqueue, inlined for the common case: a known subject, bytes, no extras.
            size = len(payload)
            if size > self._max_payload:
                raise self._too_large(size)
            if self._status is not CONNECTED:
                self._check_can_buffer(len(prefix) + size + 16)
            line = _SIZE_LINES.get(size)
            if line is None:
                line = _size_line(size)
            out = self._outbound
            out += prefix
            out += line
            out += payload
            out += b"\r\n"
            self._out_msgs += 1
            self._out_bytes += size
            if not self._flush_scheduled:
                self._schedule_flush()
                return
            if len(out) <= WRITE_THRESHOLD:
                return
            self._write_outbound()
        else:
            self._append_publish(subject, payload, reply, headers)
        if self._write_paused and len(self._outbound) > PAUSED_BUFFER_LIMIT:
            await self._wait_writable()

    def _append_publish(
        self,
        subject: str | bytes,
        payload: bytes | bytearray | memoryview,
        reply: str | bytes,
        headers: HeadersLike | None,
        *,
        reply_checked: bool = False,
    ) -> None:
        """Validate and buffer a publish the fast path does not take.

        ``reply_checked`` skips validating ``reply``: the client made it (an inbox).
        """
        subject_bytes = publish_subject(subject)
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"payload must be bytes, bytearray or memoryview, not {type(payload).__name__}"
                + (" (encode str payloads first)" if isinstance(payload, str) else "")
            )
        reply_bytes = b""
        if reply_checked and isinstance(reply, bytes):
            reply_bytes = reply
        elif reply:
            reply_bytes = reply_subject(reply)
        raw_headers = None if headers is None else encode_headers(headers)
        frame = self._frame(subject_bytes, payload, reply_bytes, raw_headers)
        if raw_headers is None:
            # Also for a reply: publish and request take the prefix when they have one.
            prefixes = self._pub_prefixes
            if len(prefixes) >= _PREFIX_CACHE_ENTRIES:
                prefixes.clear()
            prefixes[subject] = b"PUB %b " % subject_bytes
        self._enqueue(frame, len(payload))

    def _frame(
        self,
        subject: bytes,
        payload: bytes | bytearray | memoryview,
        reply: bytes,
        raw_headers: bytes | None,
    ) -> bytes:
        """A PUB or HPUB frame of checked parts; raises when it exceeds ``max_payload``."""
        size = len(payload)
        if raw_headers is None:
            if size > self._max_payload:
                raise self._too_large(size)
            if reply:
                head = b"PUB %b %b %d\r\n" % (subject, reply, size)
            else:
                head = b"PUB %b %d\r\n" % (subject, size)
            return b"".join((head, payload, b"\r\n"))
        total = len(raw_headers) + size
        if total > self._max_payload:
            raise self._too_large(total)
        if reply:
            head = b"HPUB %b %b %d %d\r\n" % (subject, reply, len(raw_headers), total)
        else:
            head = b"HPUB %b %d %d\r\n" % (subject, len(raw_headers), total)
        return b"".join((head, raw_headers, payload, b"\r\n"))

    def _enqueue(self, frame: bytes, size: int, *, now: bool = False) -> None:
        """Buffer a frame (or refuse it while disconnected with a full reconnect buffer),
        count it, and see that it gets written: ``now`` writes the buffer at once unless
        a write is already scheduled, one event-loop pass sooner than batching."""
        if self._status is not CONNECTED:
            self._check_can_buffer(len(frame))
            now = False
        self._outbound += frame
        self._out_msgs += 1
        self._out_bytes += size
        if not self._flush_scheduled:
            if now:
                self._write_outbound()
            else:
                self._schedule_flush()
        elif len(self._outbound) > WRITE_THRESHOLD:
            self._write_outbound()

    async def _publish_trusted(
        self,
        subject: bytes,
        payload: bytes,
        reply: bytes = b"",
        raw_headers: bytes | None = None,
    ) -> None:
        """Publish to a subject this client or the server made, for natswire's own layers.

        ``subject`` and ``reply`` are bytes that are not validated and not remembered in
        the subject caches: a JetStream ack subject as received in a ``MSG`` frame, the
        client's own inbox, or a subject already checked with
        :func:`natswire.protocol.serializer.publish_subject`. ``raw_headers`` is an encoded
        ``NATS/1.0`` block (:func:`natswire.protocol.encode_headers`). Otherwise it
        behaves as :meth:`publish` (payload limit, reconnect buffer, counters, write
        batching and back-pressure); user subjects go through :meth:`publish`.
        """
        self._enqueue(self._frame(subject, payload, reply, raw_headers), len(payload))
        if self._write_paused and len(self._outbound) > PAUSED_BUFFER_LIMIT:
            await self._wait_writable()

    def _too_large(self, size: int) -> MaxPayloadError:
        return MaxPayloadError(
            f"message of {size} bytes exceeds the server's max_payload of {self._max_payload}"
        )

    def _check_can_buffer(self, frame_size: int) -> None:
        status = self._status
        if status == CLOSED or self._closing is not None:
            raise ConnectionClosedError("connection is closed")
        if status == DISCONNECTED:
            raise ConnectionClosedError("not connected: call connect() first")
        if status == DRAINING:
            return
        if len(self._outbound) + frame_size > self.options.pending_size:
            raise OutboundBufferFullError(
                f"reconnect buffer full: {len(self._outbound)} bytes buffered, "
                f"pending_size is {self.options.pending_size}"
            )

    def _schedule_flush(self) -> None:
        self._flush_scheduled = True
        loop = self._loop
        assert loop is not None
        loop.call_soon(self._write_outbound)

    def _write_outbound(self) -> None:
        self._flush_scheduled = False
        if not self._outbound or self._write_paused:
            return
        status = self._status
        if status != CONNECTED and status != DRAINING:
            return
        transport = self._transport
        if transport is None:
            return
        # The transport may keep the buffer it is given: hand it over, start a new one.
        data = self._outbound
        self._outbound = bytearray()
        transport.write(data)

    def _send_control(self, data: bytes) -> None:
        """Queue a control line (SUB, UNSUB, PING) behind what is already buffered."""
        if self._status not in (CONNECTED, DRAINING):
            return
        self._outbound += data
        if not self._flush_scheduled:
            self._schedule_flush()

    async def _wait_writable(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()
        await self._writable

    def _on_pause_writing(self, conn: ServerConnection) -> None:
        if conn is self._conn:
            self._write_paused = True

    def _on_resume_writing(self, conn: ServerConnection) -> None:
        if conn is not self._conn:
            return
        self._write_paused = False
        self._write_outbound()
        writable = self._writable
        if writable is not None and not writable.done():
            writable.set_result(None)

    async def flush(self, timeout: float | None = None) -> None:
        """Return once the server has processed everything published before the call.

        Raises :class:`FlushTimeoutError` (a :class:`TimeoutError`) after ``timeout``
        seconds (default: the ``flush_timeout`` option, else 10).
        """
        if timeout is None:
            timeout = self.options.flush_timeout or 10.0
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise BadTimeoutError(f"timeout must be a positive number, got {timeout!r}")
        if self._status == CLOSED or self._closing is not None:
            raise ConnectionClosedError("connection is closed")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pongs.append(future)
        if self._status in (CONNECTED, DRAINING):
            self._send_control(PING_BYTES)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            future.cancel()
            raise FlushTimeoutError(f"flush timed out after {timeout} seconds") from None

    # ---------------------------------------------------------------- subscribe

    async def subscribe(
        self,
        subject: str,
        queue: str = "",
        cb: MessageCallback | None = None,
        max_msgs: int = 0,
        pending_msgs_limit: int = DEFAULT_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_SUB_PENDING_BYTES_LIMIT,
    ) -> Subscription:
        """Subscribe to ``subject`` (wildcards allowed), in queue group ``queue`` if given.

        ``cb`` may be a plain function (called for each message as it arrives) or a
        coroutine function (awaited for each message in turn); without it, read the
        subscription with ``next_msg`` or ``async for msg in sub.messages``.
        """
        if self._status == CLOSED or self._closing is not None:
            raise ConnectionClosedError("connection is closed")
        if self._status == DRAINING:
            raise ConnectionDrainingError("connection is draining")
        if isinstance(subject, bytes):
            subject = subject.decode()
        if not isinstance(max_msgs, int) or max_msgs < 0:
            raise ValueError(f"max_msgs must be a non-negative int, got {max_msgs!r}")
        if pending_msgs_limit <= 0 or pending_bytes_limit <= 0:
            raise ValueError("pending limits must be positive")
        sid = self._next_sid
        line = encode_sub(subject, sid, queue or None)
        subscribe_subject(subject)
        self._next_sid += 1
        sub = Subscription(
            self, sid, subject, queue, cb, max_msgs, pending_msgs_limit, pending_bytes_limit
        )
        self._subscriptions[str(sid).encode()] = sub
        self._send_control(line)
        if max_msgs:
            self._send_control(encode_unsub(sid, max_msgs))
        return sub

    def _send_unsubscribe(self, sub: Subscription, limit: int) -> None:
        self._send_control(encode_unsub(sub.sid, limit or None))

    def _forget_subscription(self, sub: Subscription) -> None:
        self._subscriptions.pop(str(sub.sid).encode(), None)

    def new_inbox(self) -> str:
        """A unique subject to receive replies on."""
        return f"{self.options.inbox_prefix}.{secrets.token_hex(11)}"

    # ------------------------------------------------------------------ request

    async def request(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float = 0.5,
        old_style: bool = False,
        headers: HeadersLike | None = None,
    ) -> Message:
        """Publish a request and return the first reply.

        Replies arrive through one shared wildcard inbox subscription. Raises
        :class:`NoRespondersError` at once when nobody subscribes to ``subject``, and
        :class:`natswire.errors.TimeoutError` after ``timeout`` seconds.
        """
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise BadTimeoutError(f"timeout must be a positive number, got {timeout!r}")
        if old_style:
            return await self._request_old_style(subject, payload, timeout, headers)
        if self._response_sub is None:
            await self._start_response_inbox()
        self._next_token += 1
        reply = b"%b%x" % (self._response_prefix, self._next_token)
        # Publish first: a publish that raises leaves no pending entry behind.
        prefix = self._pub_prefixes.get(subject)
        if prefix is not None and headers is None and payload.__class__ is bytes:
            # _frame, inlined for a known subject without headers.
            size = len(payload)
            if size > self._max_payload:
                raise self._too_large(size)
            # A lone request is written at once: its caller waits for nothing else.
            # Concurrent ones are batched.
            self._enqueue(
                b"%b%b %d\r\n%b\r\n" % (prefix, reply, size, payload),
                size,
                now=not self._responses,
            )
        else:
            self._append_publish(subject, payload, reply, headers, reply_checked=True)
        future: asyncio.Future[Message] = self._new_future()
        started = monotonic()
        responses = self._responses
        responses[reply] = (future, subject, timeout)
        self._deadlines.add(reply, timeout, started + timeout, started)
        try:
            msg = await future
        except NoRespondersError:
            # _on_response has removed the entry.
            self._count_request_failure(NoRespondersError)
            raise NoRespondersError(f"no responders on {subject!r}") from None
        except BaseException as exc:
            # A timeout, the connection closing, or the awaiting task cancelled.
            responses.pop(reply, None)
            if isinstance(exc, Exception):
                self._count_request_failure(type(exc))
            raise
        # _on_response has removed the entry.
        self._request_latency.observe(monotonic() - started)
        return msg

    def _expire_request(self, reply: bytes) -> None:
        future, subject, timeout = self._responses.pop(reply)
        if not future.done():
            future.set_exception(
                TimeoutError(f"no reply to the request on {subject!r} within {timeout} s")
            )

    def _count_request_failure(self, kind: type[BaseException]) -> None:
        failures = self._request_failures
        failures[kind.__name__] = failures.get(kind.__name__, 0) + 1

    async def _start_response_inbox(self) -> None:
        self._response_prefix = self._inbox_prefix + b"."
        self._response_sub = await self.subscribe(
            self._response_prefix.decode() + "*", cb=self._on_response
        )

    def _on_response(self, msg: Message) -> None:
        frame = msg._frame
        entry = self._responses.pop(frame.subject, None)
        if entry is None:
            return
        try:
            if frame.__class__ is Msg or not _is_no_responders(msg):
                entry[0].set_result(msg)
            else:
                entry[0].set_exception(NoRespondersError("no responders"))
        except asyncio.InvalidStateError:
            pass  # cancelled with its task, which has not yet removed the entry

    async def _request_old_style(
        self, subject: str, payload: bytes, timeout: float, headers: HeadersLike | None
    ) -> Message:
        inbox = self.new_inbox()
        sub = await self.subscribe(inbox, max_msgs=1)
        started = asyncio.get_running_loop().time()
        try:
            await self.publish(subject, payload, inbox, headers)
            msg = await sub.next_msg(timeout)
        except Exception as exc:
            self._count_request_failure(type(exc))
            raise
        finally:
            await sub.unsubscribe()
        if _is_no_responders(msg):
            self._count_request_failure(NoRespondersError)
            raise NoRespondersError(f"no responders on {subject!r}")
        self._request_latency.observe(asyncio.get_running_loop().time() - started)
        return msg

    # ---------------------------------------------------------- frames and events

    def _on_control_frame(self, conn: ServerConnection, frame: Frame) -> None:
        if frame is PING:
            if conn.transport is not None:
                conn.transport.write(PONG_BYTES)
        elif frame is PONG:
            if conn.handshaking:
                if not conn.handshake.done():
                    conn.handshake.set_result(None)
                return
            self._pings_outstanding = 0
            if self._pongs:
                future = self._pongs.popleft()
                if future is not None and not future.done():
                    future.set_result(None)
        elif isinstance(frame, Info):
            if not conn.info.done():
                conn.info.set_result(frame.fields)
            elif conn is self._conn:
                self._on_async_info(conn, frame.fields)
        elif isinstance(frame, Err):
            self._on_server_error(conn, server_error_from_text(frame.message))

    def _on_async_info(self, conn: ServerConnection, fields: dict[str, Any]) -> None:
        self._apply_info(conn, {**self._server_info, **fields})
        self._discover_servers(fields)
        if fields.get("ldm"):
            self._fire(self.options.lame_duck_mode_cb)
            if self._migration is None and self._status is CONNECTED:
                self._migration = asyncio.get_running_loop().create_task(self._leave_lame_duck())

    async def _leave_lame_duck(self) -> None:
        """Move to another server while the lame-duck one still serves us.

        The new connection is set up completely before the old one stops dispatching,
        so no message is delivered twice; the old one is then closed.
        """
        try:
            pool = self._pool
            old_conn, old_server = self._conn, self._server
            if pool is None or old_conn is None or old_server is None:
                return
            for server in list(pool.servers):
                if server.same_address(old_server) or server.skipped:
                    continue
                if self._status is not CONNECTED or self._conn is not old_conn:
                    return
                try:
                    await self._connect_to(server)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    server.attempts += 1
                    self._last_error = exc
                    continue
                old_conn.retired = True
                self._on_connected()
                if old_conn.transport is not None:
                    old_conn.transport.close()
                self._reconnects += 1
                self._fire(self.options.reconnected_cb)
                return
        finally:
            self._migration = None

    def _on_server_error(self, conn: ServerConnection, error: ServerError) -> None:
        self._errors_received += 1
        if conn.handshaking:
            if not conn.handshake.done():
                conn.handshake.set_exception(error)
            return
        self._last_error = error
        self._report_error(error)
        if error.fatal and conn.transport is not None:
            conn.transport.close()

    def _on_protocol_error(self, conn: ServerConnection, error: RemoteProtocolError) -> None:
        if conn.handshaking:
            for future in (conn.info, conn.handshake):
                if not future.done():
                    future.set_exception(error)
        else:
            self._last_error = error
            self._report_error(error)
        if conn.transport is not None:
            conn.transport.abort()

    def _on_connection_lost(self, conn: ServerConnection, exc: Exception | None) -> None:
        if conn is not self._conn:
            return
        self._conn = None
        self._transport = None
        self._cancel_ping_timer()
        if self._migration is not None:
            self._migration.cancel()
        # Publishers waiting for the old transport to drain now fill the reconnect buffer.
        self._write_paused = False
        writable = self._writable
        if writable is not None and not writable.done():
            writable.set_result(None)
        status = self._status
        if status == CLOSED or self._closing is not None:
            return
        self._fire(self.options.disconnected_cb)
        if self.options.allow_reconnect and status in (CONNECTED, DRAINING):
            self._status = RECONNECTING
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())
        else:
            self._start_close()

    def _report_error(self, error: Exception) -> None:
        """Hand an asynchronous error to ``error_cb`` (or the log when there is none)."""
        counts = self._errors_by_class
        name = type(error).__name__
        counts[name] = counts.get(name, 0) + 1
        cb = self.options.error_cb
        if cb is None:
            logger.error("natswire: %s", error)
            return
        self._fire(cb, error)

    def _fire(self, cb: Callable[..., Any] | None, *args: Any) -> asyncio.Task[Any] | None:
        """Call a user callback, plain or coroutine function, without blocking on it."""
        if cb is None:
            return None
        try:
            result = cb(*args)
        except Exception:
            logger.exception("natswire: callback %r raised", cb)
            return None
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._callback_tasks.add(task)
            task.add_done_callback(self._callback_done)
            return task
        return None

    def _callback_done(self, task: asyncio.Task[Any]) -> None:
        self._callback_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("natswire: callback raised", exc_info=task.exception())

    # ------------------------------------------------------------ ping and stale

    def _schedule_ping(self) -> None:
        self._cancel_ping_timer()
        loop = self._loop
        assert loop is not None
        self._ping_timer = loop.call_later(self.options.ping_interval, self._on_ping_timer)

    def _cancel_ping_timer(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None

    def _on_ping_timer(self) -> None:
        self._ping_timer = None
        conn = self._conn
        if conn is None or self._status not in (CONNECTED, DRAINING):
            return
        if self._pings_outstanding >= self.options.max_outstanding_pings:
            error = StaleConnectionError(
                f"stale connection: {self._pings_outstanding} PINGs unanswered"
            )
            self._last_error = error
            self._report_error(error)
            if conn.transport is not None:
                conn.transport.abort()
            return
        self._pings_outstanding += 1
        self._pongs.append(None)
        self._send_control(PING_BYTES)
        self._write_outbound()
        self._schedule_ping()

    # ---------------------------------------------------------------- reconnect

    async def _reconnect(self) -> None:
        options = self.options
        pool = self._pool
        assert pool is not None
        loop = asyncio.get_running_loop()
        try:
            while self._status == RECONNECTING:
                server = pool.next_server(options.max_reconnect_attempts)
                if server is None:
                    break
                delay = self._reconnect_delay(server) - (loop.time() - server.last_attempt)
                if delay > 0:
                    await asyncio.sleep(delay)
                if self._status != RECONNECTING:
                    return
                try:
                    await self._connect_to(server)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    server.attempts += 1
                    self._last_error = exc
                    if isinstance(exc, ServerError):
                        self._report_error(exc)
                    if isinstance(exc, AuthorizationError):
                        server.skipped = server.last_auth_error == str(exc)
                        server.last_auth_error = str(exc)
                    continue
                server.last_auth_error = None
                self._reconnects += 1
                self._on_connected()
                self._fire(options.reconnected_cb)
                return
        except asyncio.CancelledError:
            return
        self._reconnect_task = None
        self._last_error = NoServersError(
            "no server could be reached: reconnect attempts exhausted"
        )
        self._start_close()

    def _reconnect_delay(self, server: Server) -> float:
        options = self.options
        if options.reconnect_delay_cb is not None:
            return float(options.reconnect_delay_cb(server.attempts))
        base = float(options.reconnect_time_wait) * 2.0 ** min(server.attempts, 16)
        delay = min(base, max(options.reconnect_time_wait_max, options.reconnect_time_wait))
        jitter = options.reconnect_jitter
        return delay * (1 + self._rng.uniform(-jitter, jitter)) if jitter else delay

    # ------------------------------------------------------------ drain and close

    async def drain(self) -> None:
        """Stop new messages, deliver those pending, flush what was published, close.

        While reconnecting there is no server to flush to, so it closes at once.
        """
        if self._status == CLOSED or self._closing is not None:
            raise ConnectionClosedError("connection is closed")
        if self._status == DRAINING:
            return
        if self._status is not CONNECTED:
            # Nothing can be flushed to a server we are not connected to (nats.go closes too).
            await self.close()
            return
        self._status = DRAINING
        subs = [s for s in self._subscriptions.values() if s is not self._response_sub]
        try:
            await asyncio.wait_for(
                asyncio.gather(*(sub.drain() for sub in subs)), self.options.drain_timeout
            )
            await self.flush()
        except (asyncio.TimeoutError, TimeoutError) as exc:
            self._report_error(TimeoutError(f"drain did not finish in time: {exc}"))
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the connection. Idempotent; never hangs, also on a dead connection."""
        if self._closing is None:
            if self._status == CLOSED:
                return
            self._start_close()
        assert self._closing is not None
        await asyncio.shield(self._closing)

    def _start_close(self) -> None:
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._close())

    async def _close(self) -> None:
        was_connected = self._conn is not None
        self._cancel_ping_timer()
        for task in (self._reconnect_task, self._migration):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        conn = self._conn
        if conn is not None and conn.transport is not None:
            if self._outbound and not self._write_paused:
                conn.transport.write(bytes(self._outbound))
            conn.transport.close()
            try:
                await asyncio.wait_for(asyncio.shield(conn.lost), 1.0)
            except asyncio.TimeoutError:
                conn.transport.abort()
        self._status = CLOSED
        self._conn = None
        self._transport = None
        self._outbound = bytearray()
        closed: Exception = ConnectionClosedError("connection closed")
        if isinstance(self._last_error, NoServersError):
            closed = self._last_error
        while self._pongs:
            pong = self._pongs.popleft()
            if pong is not None and not pong.done():
                pong.set_exception(closed)
        self._deadlines.clear()
        for response, *_ in self._responses.values():
            if not response.done():
                response.set_exception(closed)
        self._responses.clear()
        if self._writable is not None and not self._writable.done():
            self._writable.set_exception(closed)
        for sub in list(self._subscriptions.values()):
            sub._abort()
        self._subscriptions.clear()
        if was_connected:
            self._fire(self.options.disconnected_cb)
        closed_task = self._fire(self.options.closed_cb)
        if closed_task is not None:
            await asyncio.wait({closed_task}, timeout=self.options.connect_timeout)

    # --------------------------------------------------------------- properties

    @property
    def status(self) -> Status:
        """``Status.CONNECTING``, ``CONNECTED``, ``RECONNECTING``, ``DRAINING`` or ``CLOSED``."""
        return self._status

    @property
    def is_connected(self) -> bool:
        """Whether a connection is up (draining included)."""
        return self._status in (CONNECTED, DRAINING)

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
    def connected_url(self) -> str | None:
        """The URL of the server connected to, or ``None``."""
        return self._server.url if self._server is not None and self._conn is not None else None

    @property
    def servers(self) -> list[str]:
        """Every server in the pool, explicit and discovered."""
        return [s.url for s in self._pool.servers] if self._pool is not None else []

    @property
    def discovered_servers(self) -> list[str]:
        return [s.url for s in self._pool.servers if s.discovered] if self._pool else []

    @property
    def max_payload(self) -> int:
        """The largest message (headers and payload) the server accepts."""
        return self._max_payload

    @property
    def client_id(self) -> int | None:
        """The id the server gave this connection."""
        value = self._server_info.get("client_id")
        return value if isinstance(value, int) else None

    @property
    def connected_server_version(self) -> str:
        return str(self._server_info.get("version", ""))

    @property
    def server_info(self) -> dict[str, Any]:
        """The last INFO received from the server."""
        return dict(self._server_info)

    @property
    def last_error(self) -> Exception | None:
        return self._last_error

    @property
    def pending_data_size(self) -> int:
        """Bytes published but not yet handed to the transport."""
        return len(self._outbound)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _create_future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


def _future_factory(loop: asyncio.AbstractEventLoop) -> Callable[[], asyncio.Future[Any]]:
    """``loop.create_future``, or the same without its Python frame on the stock loop."""
    if type(loop).create_future is asyncio.BaseEventLoop.create_future:
        return functools.partial(asyncio.Future, loop=loop)
    return loop.create_future


def _is_no_responders(msg: Message) -> bool:
    frame = msg._frame
    raw = getattr(frame, "raw_headers", None)
    return raw is not None and not frame.payload and raw.startswith(_NO_RESPONDERS_STATUS)


def _tls_context(option: ssl.SSLContext | bool | None) -> ssl.SSLContext | None:
    if option is True:
        return ssl.create_default_context()
    if isinstance(option, ssl.SSLContext):
        return option
    if option in (None, False):
        return None
    raise TypeError(f"tls must be an ssl.SSLContext or True, not {type(option).__name__}")


def _load_credentials(options: ConnectOptions) -> tuple[str, str] | None:
    """Read nkey credentials once, so a bad file fails at connect, not on each retry."""
    if options.user_credentials:
        return nkeys.read_credentials(options.user_credentials)
    if options.nkeys_seed:
        seed = nkeys.read_seed(options.nkeys_seed)
        nkeys.decode_seed(seed)
        return "", seed
    return None


def _abort(conn: ServerConnection) -> None:
    if conn.transport is not None:
        conn.transport.abort()


async def connect(
    servers: str | list[str] | None = None,
    *,
    options: ConnectOptions | None = None,
    **kwargs: Any,
) -> Client:
    """Connect to NATS and return the :class:`Client`.

    ``natswire.connect(servers=["nats://127.0.0.1:4222"], name="svc")`` takes nats-py's
    keyword names; ``options=ConnectOptions(...)`` takes the same as one object.
    """
    client = Client()
    await client.connect(servers, options=options, **kwargs)
    return client
