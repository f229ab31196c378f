"""The blocking NATS client: ``natswire.sync.connect(...)`` for code without an event loop.

Built on :mod:`natswire.protocol` with blocking sockets, not on an event loop in a
background thread. Three threads per client:

- the caller's threads publish: each encodes its frame, appends it to one outbound
  buffer under a lock and wakes the flusher when the buffer was empty; a buffer past
  64 KiB is written by the publisher itself (that is the back-pressure);
- the flusher thread writes what publishers buffered, and the PINGs and PONGs the
  reader asks for (it never waits on a publisher);
- the reader thread (:mod:`.reader`) reads, dispatches, pings, notices a stale link and
  reconnects; request replies are resolved right there;
- the delivery thread (:mod:`.delivery`) runs message callbacks and the option
  callbacks.

Options, the server pool, auth, TLS, errors and states are the asyncio client's.
"""

from __future__ import annotations

import secrets
import threading
from concurrent import futures
from time import monotonic
from typing import TYPE_CHECKING, Any

from ..client.connect_info import tls_context
from ..client.credentials import load_nkey_auth
from ..client.errors import (
    BadTimeoutError,
    ConnectionClosedError,
    ConnectionDrainingError,
    FlushTimeoutError,
    NoServersError,
    TimeoutError,
)
from ..client.options import (
    DEFAULT_SUB_PENDING_BYTES_LIMIT,
    DEFAULT_SUB_PENDING_MSGS_LIMIT,
    ConnectOptions,
    options_for_connect,
)
from ..client.servers import ServerPool
from ..client.state import CLOSED, CONNECTING, DISCONNECTED, DRAINING, ENDING, UP, Status
from ..protocol.errors import NatsWireError
from ..protocol.headers import HeadersLike
from ..protocol.serializer import encode_unsub
from .control import ControlPlane
from .delivery import DeliveryThread
from .message import Message
from .reader import Reader, ReaderHooks
from .requests import Requests
from .subscription import MessageCallback, Subscription, SubscriptionHooks, SubscriptionTable
from .view import ClientView
from .writer import Writer

if TYPE_CHECKING:
    from .jetstream import JetStreamContext

__all__ = ["Client", "connect"]


class Client(ClientView):
    """A blocking connection to NATS; make one with :func:`natswire.sync.connect`.

    Thread-safe: any thread may publish, request, subscribe, flush or close.
    ``publish(subject, payload=b"", reply="", headers=None)`` buffers a message (see
    :meth:`natswire.sync.writer.Writer.publish`).
    """

    def __init__(self) -> None:
        self.options = ConnectOptions()
        self._subscriptions = SubscriptionTable()
        self._writer = Writer()
        self._control = ControlPlane(self._writer)
        self._requests = Requests()
        self._reader: Reader | None = None
        self._delivery: DeliveryThread | None = None
        self._close_lock = threading.Lock()
        self._closing = False
        self._closed = threading.Event()
        self._sub_hooks = SubscriptionHooks(
            responder=self,
            send_unsubscribe=self._send_unsubscribe,
            forget_subscription=self._forget_subscription,
            run_callback=self._run_callback,
            report_error=self._control.report_error,
        )
        #: Publish: the writer's entry point, bound once.
        self.publish = self._writer.publish

    # ------------------------------------------------------------------ connect

    def connect(
        self,
        servers: str | list[str] | None = None,
        *,
        options: ConnectOptions | None = None,
        **kwargs: Any,
    ) -> Client:
        """Connect to the first server of the pool that answers (the same options as
        :func:`natswire.connect`; callbacks are plain functions, run on the delivery
        thread)."""
        options = options_for_connect(servers, options, kwargs)
        if self._writer.status is not DISCONNECTED:
            raise NatsWireError("a blocking client connects once; make a new one")
        if any(url.lower().startswith(("ws://", "wss://")) for url in options.servers):
            raise ValueError(
                "the blocking client speaks NATS over TCP only: ws:// and wss:// servers "
                "need natswire.connect (asyncio)"
            )
        self.options = options
        pool = ServerPool(
            list(options.servers), randomize=not options.dont_randomize, rng=options.rng
        )
        # Read TLS files and credentials before any thread starts: a bad one fails here.
        tls, credentials = tls_context(options.tls), load_nkey_auth(options)
        delivery = self._delivery = DeliveryThread("natswire-sync-delivery")
        hooks = ReaderHooks(
            is_ending=self._is_ending,
            on_control_frame=self._control.on_control_frame,
            send_urgent=self._writer.send_urgent,
            link_up=self._link_up,
            link_down=self._link_down,
            give_up=self._give_up,
            note_error=self._control.note_error,
            reconnected=self._control.count_reconnect,
        )
        reader = self._reader = Reader(
            hooks,
            options,
            self._subscriptions.by_sid,
            pool,
            tls,
            credentials,
        )
        self._control.configure(options, pool, reader, delivery)
        self._writer.configure(options)
        self._requests.configure(f"{options.inbox_prefix}.{secrets.token_hex(11)}")
        self._writer.move_to(CONNECTING)
        try:
            link, info = reader.connect_first()
        except BaseException:
            self._abandon()
            raise
        if link is not None:
            self._link_up(link, info)
        else:
            self._writer.move_to(Status.RECONNECTING)
        reader.start(link)
        return self

    def _abandon(self) -> None:
        self._writer.move_to(CLOSED)
        self._writer.stop()
        if self._delivery is not None:
            self._delivery.stop(1.0)

    # Hooks for the reader thread (see ReaderHooks).

    def _is_ending(self) -> bool:
        return self._writer.close_requested or self._writer.status in ENDING

    def _link_up(self, link: Any, info: dict[str, Any]) -> bool:
        self._control.apply_info(info)
        head = self._subscriptions.resubscribe_lines()
        return self._writer.link_up(link, head, self._control.max_payload(info))

    def _link_down(self, error: Exception | None) -> bool:
        reconnect = self._writer.link_down(self.options.allow_reconnect)
        if self._is_ending():
            return False
        self._control.fire(self.options.disconnected_cb)
        if not reconnect:
            self._finish_close(error)
        return reconnect

    def _give_up(self, error: Exception) -> None:
        self._control.note_error(error, False)
        self._finish_close(error)

    # Hooks for subscriptions (see SubscriptionHooks).

    def _send_unsubscribe(self, sid: int, limit: int) -> None:
        self._writer.send_control(encode_unsub(sid, limit or None))

    def _forget_subscription(self, sid: int) -> None:
        self._subscriptions.forget(sid)

    def _run_callback(self, sub: Subscription) -> None:
        assert self._delivery is not None
        self._delivery.submit(sub.run_next_callback)

    # ------------------------------------------------------------------ publish

    def flush(self, timeout: float | None = None) -> None:
        """Return once the server has processed everything published before the call;
        raise :class:`FlushTimeoutError` after ``timeout`` seconds (default: the
        ``flush_timeout`` option, else 10)."""
        if timeout is None:
            timeout = self.options.flush_timeout or 10.0
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise BadTimeoutError(f"timeout must be a positive number, got {timeout!r}")
        future = self._writer.ping()
        try:
            future.result(timeout)
        except futures.TimeoutError:
            future.cancel()
            raise FlushTimeoutError(f"flush timed out after {timeout} seconds") from None

    # ---------------------------------------------------------------- subscribe

    def subscribe(
        self,
        subject: str,
        queue: str = "",
        cb: MessageCallback | None = None,
        max_msgs: int = 0,
        pending_msgs_limit: int = DEFAULT_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_SUB_PENDING_BYTES_LIMIT,
    ) -> Subscription:
        """Subscribe to ``subject`` (wildcards allowed), in queue group ``queue`` if given.

        ``cb`` (a plain function) runs on the client's delivery thread for each message,
        in order; without it, read with ``sub.next_msg(timeout)`` or ``for msg in sub``.
        """
        status = self._writer.status
        if status in ENDING:
            raise ConnectionClosedError("connection is closed")
        if status is DRAINING:
            raise ConnectionDrainingError("connection is draining")
        if isinstance(subject, bytes):
            subject = subject.decode()
        if not isinstance(max_msgs, int) or max_msgs < 0:
            raise ValueError(f"max_msgs must be a non-negative int, got {max_msgs!r}")
        if pending_msgs_limit <= 0 or pending_bytes_limit <= 0:
            raise ValueError("pending limits must be positive")
        if cb is not None and not callable(cb):
            raise TypeError("cb must be callable")
        sub, line = self._subscriptions.add(
            self._sub_hooks,
            subject,
            queue,
            cb,
            max_msgs,
            (pending_msgs_limit, pending_bytes_limit),
            None,
        )
        self._writer.send_control(line)
        return sub

    def new_inbox(self) -> str:
        """A unique subject to receive replies on."""
        return f"{self.options.inbox_prefix}.{secrets.token_hex(11)}"

    # ------------------------------------------------------------------ request

    def request(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float = 0.5,
        headers: HeadersLike | None = None,
    ) -> Message:
        """Publish a request and return the first reply, through one shared wildcard
        inbox. Raises :class:`NoRespondersError` when nobody subscribes to ``subject``
        and :class:`natswire.errors.TimeoutError` after ``timeout`` seconds."""
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise BadTimeoutError(f"timeout must be a positive number, got {timeout!r}")
        requests = self._requests
        if not requests.started:
            requests.start(self._start_inbox)
        reply, pending = requests.add()
        try:
            self._writer.publish_now(subject, payload, reply, headers)
            return requests.wait(subject, pending, timeout)
        finally:
            requests.forget(reply)

    def _start_inbox(self, subject: str) -> None:
        limits = (DEFAULT_SUB_PENDING_MSGS_LIMIT, DEFAULT_SUB_PENDING_BYTES_LIMIT)
        _, line = self._subscriptions.add(
            self._sub_hooks, subject, "", None, 0, limits, self._requests.on_reply
        )
        self._writer.send_control(line)

    # ------------------------------------------------------------ drain and close

    def drain(self, timeout: float | None = None) -> None:
        """Stop new messages, run the callbacks of those pending, flush, close; at most
        ``timeout`` (default ``drain_timeout``) seconds, then close anyway."""
        if self._writer.status in ENDING:
            raise ConnectionClosedError("connection is closed")
        if not self._writer.start_draining():
            self.close()
            return
        deadline = monotonic() + (timeout or self.options.drain_timeout)
        inbox = self._requests.inbox_subject
        subs = [s for s in self._subscriptions.all() if s.subject != inbox]
        try:
            for sub in subs:
                self._send_unsubscribe(sub.sid, 0)
            self.flush(max(deadline - monotonic(), 0.001))
            # From a callback, the pending ones cannot run before this one returns.
            in_callback = self._delivery is not None and self._delivery.is_current()
            for sub in subs:
                self._forget_subscription(sub.sid)
                if not in_callback and not sub.wait_drained(deadline):
                    raise TimeoutError("callbacks still running")
        except (TimeoutError, ConnectionClosedError) as exc:
            self._control.report_error(TimeoutError(f"drain did not finish in time: {exc}"))
        finally:
            self.close()

    def close(self) -> None:
        """Close: write what is buffered (a second at most), stop the threads. Idempotent,
        callable from any thread (a callback included); never hangs."""
        with self._close_lock:
            first = not self._closing
            self._closing = True
        if not first:
            if not self._closed.is_set() and not self._on_own_thread():
                self._closed.wait(self.options.connect_timeout + 2.0)
            return
        # No lock first: a publisher may hold the writer's lock, blocked on a dead link;
        # shutting the link down releases it.
        was_up = self._writer.status in UP
        self._writer.request_close()
        reader = self._reader
        if reader is not None:
            reader.stopping.set()
        self._writer.close_link(1.0)
        self._writer.start_closing()
        if reader is not None and not self._on_own_thread():
            reader.join(self.options.connect_timeout + 1.0)
        if was_up:
            self._control.fire(self.options.disconnected_cb)
        self._finish_close(None)

    def _on_own_thread(self) -> bool:
        delivery = self._delivery
        current = threading.current_thread().name
        return (delivery is not None and delivery.is_current()) or current.startswith(
            "natswire-sync-"
        )

    def _finish_close(self, error: Exception | None) -> None:
        """Everything after the link is gone: fail what waits, close subscriptions, fire
        the callbacks, stop the threads."""
        with self._close_lock:
            if self._closed.is_set():
                return
            self._closing = True
            self._writer.request_close()
            self._writer.close_link(0.0)
            self._writer.start_closing()
            self._writer.move_to(CLOSED)
            self._closed.set()
        closed: Exception = (
            error
            if isinstance(error, NoServersError)
            else ConnectionClosedError("connection closed")
        )
        self._writer.fail_pings(closed)
        self._requests.close(closed)
        self._subscriptions.close_all()
        self._writer.stop()
        delivery = self._delivery
        if delivery is not None:
            self._control.fire(self.options.closed_cb)
            delivery.stop(self.options.connect_timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --------------------------------------------------------------- JetStream

    def jetstream(self, **options: Any) -> JetStreamContext:
        """A blocking JetStream context (``publish`` with acks, pull subscriptions)."""
        from .jetstream import JetStreamContext

        return JetStreamContext(self, **options)


def connect(
    servers: str | list[str] | None = None,
    *,
    options: ConnectOptions | None = None,
    **kwargs: Any,
) -> Client:
    """Connect to NATS and return a blocking :class:`Client` (the keywords of
    :func:`natswire.connect`)."""
    return Client().connect(servers, options=options, **kwargs)
