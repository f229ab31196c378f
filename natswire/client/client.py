"""The NATS client: connect, publish, subscribe, request, flush, drain, close.

A drop-in for the common calls of nats-py's ``NATS`` class. Publishing appends
encoded frames to an outbound buffer that is written once per event-loop iteration
(or as soon as it passes a threshold); received messages are dispatched inside
``data_received``. The handshake (:mod:`.handshake`), what a connection reports and
what its subscriptions ask (:mod:`.supervisor`), keeping the connection
(:mod:`.failover`), requests (:mod:`.requests`) and the statistics (:mod:`.stats`)
live in modules of their own; the states and their transitions in :mod:`.state`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from time import monotonic
from typing import Any

from ..protocol.errors import MaxPayloadError, NatsWireError
from ..protocol.headers import HeadersLike, encode_headers
from ..protocol.limits import DEFAULT_MAX_PAYLOAD
from ..protocol.serializer import (
    PING_BYTES,
    SIZE_LINES,
    encode_sub,
    encode_unsub,
    publish_subject,
    reply_subject,
    size_line,
    subscribe_subject,
)
from .callbacks import Callbacks
from .control import ClientControl
from .errors import (
    BadTimeoutError,
    ConnectionClosedError,
    ConnectionDrainingError,
    DrainTimeoutError,
    FlushTimeoutError,
    NoRespondersError,
    OutboundBufferFullError,
)
from .message import Message
from .options import (
    DEFAULT_SUB_PENDING_BYTES_LIMIT,
    DEFAULT_SUB_PENDING_MSGS_LIMIT,
    ConnectOptions,
    options_for_connect,
)
from .requests import RequestMultiplexer, create_future, future_factory
from .scatter import ScatterGather, Sentinel
from .state import (
    CLOSED,
    CLOSING,
    CONNECTED,
    CONNECTING,
    DISCONNECTED,
    DRAINING,
    ENDING,
    RECONNECTING,
    UP,
    Status,
    check_transition,
)
from .stats import Counters, Stats
from .subscription import MessageCallback, Subscription, resolve_first
from .supervisor import ClientHooks, Supervisor

__all__ = [
    "CLOSED",
    "CLOSING",
    "CONNECTED",
    "CONNECTING",
    "DISCONNECTED",
    "DRAINING",
    "RECONNECTING",
    "Client",
    "Stats",
    "Status",
    "connect",
]

#: Write the outbound buffer at once when it grows past this many bytes.
WRITE_THRESHOLD = 64 * 1024
#: While the transport is paused, publishers wait once this much is buffered.
PAUSED_BUFFER_LIMIT = 4 * 1024 * 1024
_PREFIX_CACHE_ENTRIES = 4096


class Client(ClientControl):
    """A connection to NATS. Create it with :func:`natswire.connect`.

    Its connections and subscriptions report to its :class:`Supervisor`, not to it.
    Besides the nats-py API it offers ``publish_trusted`` to natswire's upper layers.
    """

    def __init__(self) -> None:
        self.options = ConnectOptions()
        self._status = DISCONNECTED
        self._transport: asyncio.Transport | None = None
        self._max_payload = DEFAULT_MAX_PAYLOAD
        self._subscriptions: dict[bytes, Subscription] = {}
        self._next_sid = 1
        self._outbound = bytearray()
        # "PUB <subject> " for subjects already validated, keyed as the caller passed them.
        self._pub_prefixes: dict[str | bytes, bytes] = {}
        self._flush_scheduled = False
        self._write_paused = False
        self._writable: asyncio.Future[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._requests = RequestMultiplexer()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_future: Callable[[], asyncio.Future[Any]] = create_future
        self._counters = Counters()
        self._callbacks = Callbacks(self._counters)
        hooks = ClientHooks(
            move_to=self._move_to,
            connection_up=self._connection_up,
            connection_down=self._connection_down,
            set_write_paused=self._set_write_paused,
            send_control=self._send_control,
            set_max_payload=self._set_max_payload,
            start_close=self._start_close,
        )
        self._supervisor = Supervisor(
            self, self._subscriptions, self._counters, self._callbacks, hooks
        )
        #: Plain functions called when the link drops and a reconnect begins, and after
        #: each successful reconnect (subscriptions restored).
        self.disconnect_listeners = self._supervisor.disconnect_listeners
        self.reconnect_listeners = self._supervisor.reconnect_listeners
        self._out_msgs = self._out_bytes = 0
        self.stats = Stats(
            self,
            self._counters,
            self._requests.metrics,
            self._subscriptions,
            lambda: (self._out_msgs, self._out_bytes),
            self._supervisor.transport_buffer_size,
        )

    def _move_to(self, status: Status) -> None:
        """The one place the state changes; refuses moves :mod:`.state` does not allow."""
        self._status = check_transition(self._status, status)

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
        options = options_for_connect(servers, options, kwargs)
        if self._status not in (DISCONNECTED, CLOSED):
            raise NatsWireError("client is already connected")
        self.options = options
        self._supervisor.configure(options)
        self._loop = asyncio.get_running_loop()
        self._new_future = future_factory(self._loop)
        self._requests.inbox_prefix = f"{options.inbox_prefix}.{secrets.token_hex(11)}".encode()
        self._closing = None
        self._move_to(CONNECTING)
        await self._supervisor.connect()
        return self

    # Hooks for the supervisor (see ClientHooks): the write side of a connection.

    def _connection_up(self, transport: asyncio.Transport, head: bytes, tail: bytes) -> None:
        self._write_paused = self._flush_scheduled = False
        self._transport = transport
        transport.set_write_buffer_limits(high=1024 * 1024)
        resend = head + self._outbound + tail
        self._outbound = bytearray()
        if resend:
            transport.write(resend)

    def _connection_down(self) -> None:
        self._transport = None
        self._write_paused = False
        self._flush_scheduled = False
        self._wake_writers()

    def _set_write_paused(self, paused: bool) -> None:
        self._write_paused = paused
        if not paused:
            self._write_outbound()
            self._wake_writers()

    def _set_max_payload(self, size: int) -> None:
        self._max_payload = size

    def _wake_writers(self) -> None:
        writable = self._writable
        if writable is not None and not writable.done():
            writable.set_result(None)

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
                raise MaxPayloadError.of(size, self._max_payload)
            if self._status is not CONNECTED:
                self._check_can_buffer(len(prefix) + size + 16)
            line = SIZE_LINES.get(size)
            if line is None:
                line = size_line(size)
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
            await self._writable_future()

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
                raise MaxPayloadError.of(size, self._max_payload)
            # One formatting makes the frame (%b takes any buffer; typeshed says bytes).
            if reply:
                return b"PUB %b %b %d\r\n%b\r\n" % (subject, reply, size, payload)  # type: ignore[str-format]
            return b"PUB %b %d\r\n%b\r\n" % (subject, size, payload)  # type: ignore[str-format]
        total = len(raw_headers) + size
        if total > self._max_payload:
            raise MaxPayloadError.of(total, self._max_payload)
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

    async def publish_trusted(
        self, subject: bytes, payload: bytes, reply: bytes = b"", raw_headers: bytes | None = None
    ) -> None:
        """Publish to a subject this client or the server made, for natswire's own layers.

        ``subject`` and ``reply`` are bytes that are not validated and not remembered in the
        subject caches: a JetStream ack subject as received in a ``MSG`` frame, the client's
        own inbox, or a subject already checked with :func:`natswire.protocol.serializer.
        publish_subject`. ``raw_headers`` is an encoded ``NATS/1.0`` block
        (:func:`natswire.protocol.encode_headers`). Otherwise it behaves as :meth:`publish`
        (payload limit, reconnect buffer, counters, write batching and back-pressure).
        """
        writable = self.publish_trusted_nowait(subject, payload, reply, raw_headers)
        if writable is not None:
            await writable

    def publish_trusted_nowait(
        self, subject: bytes, payload: bytes, reply: bytes = b"", raw_headers: bytes | None = None
    ) -> asyncio.Future[None] | None:
        """:meth:`publish_trusted` now, for plain functions; returns what to await, if any."""
        self._enqueue(self._frame(subject, payload, reply, raw_headers), len(payload))
        if self._write_paused and len(self._outbound) > PAUSED_BUFFER_LIMIT:
            return self._writable_future()
        return None

    def publish_prebuilt_nowait(
        self, subject: bytes, tail: bytes, size: int
    ) -> asyncio.Future[None] | None:
        """:meth:`publish_trusted_nowait` of a payload framed once for many sends (a
        JetStream ack): ``tail`` follows the subject in the frame (made by
        :func:`natswire.protocol.serializer.pub_tail`), ``size`` is the payload's size."""
        if size > self._max_payload:
            raise MaxPayloadError.of(size, self._max_payload)
        if self._status is not CONNECTED:
            self._check_can_buffer(len(subject) + len(tail) + 4)
        # _enqueue, inlined: a JetStream fetch acks hundreds in a row.
        out = self._outbound
        out += b"PUB "
        out += subject
        out += tail
        self._out_msgs += 1
        self._out_bytes += size
        if not self._flush_scheduled:
            self._schedule_flush()
        elif len(out) > WRITE_THRESHOLD:
            self._write_outbound()
        if self._write_paused and len(self._outbound) > PAUSED_BUFFER_LIMIT:
            return self._writable_future()
        return None

    def _check_can_buffer(self, frame_size: int) -> None:
        status = self._status
        if status in ENDING:
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
        # Paused: the write stays owed to resume_writing, so publishes check back-pressure.
        self._flush_scheduled = self._write_paused
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

    def _send_control(self, data: bytes, now: bool = False) -> None:
        """Queue a control line (SUB, UNSUB, PING) behind what is already buffered;
        write it at once when ``now``."""
        if self._status not in UP:
            return
        self._outbound += data
        if now:
            self._write_outbound()
        elif not self._flush_scheduled:
            self._schedule_flush()

    def _writable_future(self) -> asyncio.Future[None]:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()
        return self._writable

    async def flush(self, timeout: float | None = None) -> None:
        """Return once the server has processed everything published before the call.

        Raises :class:`FlushTimeoutError` (a :class:`TimeoutError`) after ``timeout``
        seconds (default: the ``flush_timeout`` option, else 10).
        """
        if timeout is None:
            timeout = self.options.flush_timeout or 10.0
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise BadTimeoutError(f"timeout must be a positive number, got {timeout!r}")
        if self._status in ENDING:
            raise ConnectionClosedError("connection is closed")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._supervisor.pongs.append(future)
        if self._status in UP:
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
        future: asyncio.Future[Message] | None = None,
        max_msgs: int = 0,
        pending_msgs_limit: int = DEFAULT_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_SUB_PENDING_BYTES_LIMIT,
    ) -> Subscription:
        """Subscribe to ``subject`` (wildcards allowed), in queue group ``queue`` if given.

        ``cb``: a plain function (called as each message arrives) or a coroutine function
        (awaited per message); ``future`` gets the first message; else read with
        ``next_msg`` or ``async for msg in sub.messages``. -1: no pending limit.
        """
        if self._status in ENDING:
            raise ConnectionClosedError("connection is closed")
        if self._status == DRAINING:
            raise ConnectionDrainingError("connection is draining")
        if isinstance(subject, bytes):
            subject = subject.decode()
        if not isinstance(max_msgs, int) or max_msgs < 0:
            raise ValueError(f"max_msgs must be a non-negative int, got {max_msgs!r}")
        cb = resolve_first(future) if cb is None and future is not None else cb
        limits = (pending_msgs_limit, pending_bytes_limit)
        sid = self._next_sid
        line = encode_sub(subject, sid, queue or None)
        subscribe_subject(subject)
        self._next_sid += 1
        sub = Subscription(self._supervisor, sid, subject, queue, cb, max_msgs, *limits)
        self._subscriptions[str(sid).encode()] = sub
        self._send_control(line)
        if max_msgs:
            self._send_control(encode_unsub(sid, max_msgs))
        return sub

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
        requests = self._requests
        if old_style:
            return await requests.request_old_style(self, subject, payload, timeout, headers)
        if requests.inbox is None:
            await requests.start_inbox(self)
        reply = requests.next_reply()
        waiting = requests.waiting
        # Publish first: a publish that raises leaves no pending entry behind.
        prefix = self._pub_prefixes.get(subject)
        if prefix is not None and headers is None and payload.__class__ is bytes:
            # _frame, inlined for a known subject without headers.
            size = len(payload)
            if size > self._max_payload:
                raise MaxPayloadError.of(size, self._max_payload)
            # A lone request is written at once: its caller waits for nothing else.
            # Concurrent ones are batched.
            self._enqueue(
                b"%b%b %d\r\n%b\r\n" % (prefix, reply, size, payload), size, now=not waiting
            )
        else:
            self._append_publish(subject, payload, reply, headers, reply_checked=True)
        future: asyncio.Future[Message] = self._new_future()
        started = monotonic()
        requests.add(reply, future, subject, timeout, started)
        try:
            msg = await future
        except NoRespondersError:
            # on_response has removed the entry.
            requests.metrics.count_failure(NoRespondersError)
            raise NoRespondersError(f"no responders on {subject!r}") from None
        except BaseException as exc:
            # A timeout, the connection closing, or the awaiting task cancelled.
            waiting.pop(reply, None)
            if isinstance(exc, Exception):
                requests.metrics.count_failure(type(exc))
            raise
        # on_response has removed the entry.
        requests.metrics.latency.observe(monotonic() - started)
        return msg

    def request_many(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float = 1.0,
        max_msgs: int | None = None,
        stall: float | None = None,
        sentinel: Sentinel | bool | None = None,
        headers: HeadersLike | None = None,
    ) -> ScatterGather:
        """Gather the replies to one request (ADR-47): see :class:`.scatter.ScatterGather`."""
        return ScatterGather(self, subject, payload, timeout, max_msgs, stall, sentinel, headers)

    # ------------------------------------------------------------ drain and close

    async def drain(self) -> None:
        """Stop new messages, deliver those pending, flush what was published, close.

        While reconnecting there is no server to flush to, so it closes at once.
        """
        if self._status in ENDING:
            raise ConnectionClosedError("connection is closed")
        if self._status == DRAINING:
            return
        if self._status is not CONNECTED:
            # Nothing can be flushed to a server we are not connected to (nats.go closes too).
            await self.close()
            return
        self._move_to(DRAINING)
        inbox = self._requests.inbox
        subs = [s for s in self._subscriptions.values() if s is not inbox]
        try:
            await asyncio.wait_for(
                asyncio.gather(*(sub.drain() for sub in subs)), self.options.drain_timeout
            )
            await self.flush()
        except asyncio.TimeoutError as exc:  # also natswire's TimeoutError
            self._supervisor.report_error(DrainTimeoutError(f"drain timed out: {exc}"))
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
        """Begin closing (``close()`` awaits the end)."""
        if self._closing is None:
            self._move_to(CLOSING)
            self._closing = asyncio.get_running_loop().create_task(self._close())

    async def _close(self) -> None:
        supervisor = self._supervisor
        last_bytes = bytes(self._outbound) if not self._write_paused else b""
        was_connected = await supervisor.close_connection(last_bytes)
        self._move_to(CLOSED)
        self._transport = None
        self._outbound = bytearray()
        closed = supervisor.closed_error()
        supervisor.fail_flushes(closed)
        self._requests.close(closed)
        if self._writable is not None and not self._writable.done():
            self._writable.set_exception(closed)
        for sub in list(self._subscriptions.values()):
            sub.close_with_connection()
        self._subscriptions.clear()
        if was_connected:
            self._callbacks.fire(self.options.disconnected_cb)
        closed_task = self._callbacks.fire(self.options.closed_cb)
        if closed_task is not None:
            await asyncio.wait({closed_task}, timeout=self.options.connect_timeout)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


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
