"""Subscriptions: where delivered messages wait for their consumer."""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from ..protocol.frames import HMsg, Msg
from .errors import (
    BadTimeoutError,
    ConnectionClosedError,
    InvalidCallbackTypeError,
    SlowConsumerError,
    TimeoutError,
)
from .message import Message, new_message

if TYPE_CHECKING:
    from .ports import MessageClient, SubscriptionOwner

#: A message callback may be a plain function or a coroutine function.
MessageCallback: TypeAlias = Callable[[Message], "Awaitable[None] | None"]


def resolve_first(future: asyncio.Future[Message]) -> Callable[[Message], None]:
    """A callback that hands the first message to ``future`` (nats-py's
    ``subscribe(..., future=...)``) and ignores the rest."""

    def resolve(msg: Message) -> None:
        if not future.done():
            future.set_result(msg)

    return resolve


# Makes a plain Message without running __init__: deliveries are the hot path.
_new_plain_message = functools.partial(new_message, Message)


def _pending_limit(value: int, what: str) -> int:
    """A pending limit; -1 (any negative value, as nats-py) is unlimited."""
    if not isinstance(value, int) or value == 0:
        raise ValueError(f"{what} must be positive, or -1 for no limit, got {value!r}")
    return value if value > 0 else sys.maxsize


#: The shared subject of a subscription that has queued nothing yet (no subject is empty).
_NO_SHARED_SUBJECT = Msg(b"", b"", None, b"")


class Subscription:
    """Interest in a subject, and the messages delivered for it.

    Without a callback, take messages with :meth:`next_msg` or ``async for msg in
    sub.messages``. With a plain-function callback, each message is handed to it as
    it arrives; with a coroutine-function callback, one task per subscription
    awaits it for each message in turn.
    """

    def __init__(
        self,
        owner: SubscriptionOwner,
        sid: int,
        subject: str,
        queue: str,
        cb: MessageCallback | None,
        max_msgs: int,
        pending_msgs_limit: int,
        pending_bytes_limit: int,
    ) -> None:
        self._owner = owner
        self._client = owner.client
        self.sid = sid
        self.subject = subject
        self.queue = queue
        #: Messages handed to this subscription (queued or passed to the callback).
        self.delivered = 0
        #: Messages dropped because the pending limits were reached.
        self.dropped = 0
        self._max_msgs = max_msgs
        # The messages not taken yet: a frame, or (a message without reply or headers
        # on the subject of ``_shared``) its payload alone, one object instead of two.
        self._pending: deque[Msg | HMsg | bytes] = deque()
        self._shared = _NO_SHARED_SUBJECT
        self._pending_bytes = 0
        self._pending_msgs_limit = _pending_limit(pending_msgs_limit, "pending_msgs_limit")
        self._pending_bytes_limit = _pending_limit(pending_bytes_limit, "pending_bytes_limit")
        # Consumers waiting for a message, first come first served, each with its own
        # future so that one giving up (a timeout) leaves the others waiting.
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._slow = False
        self._closed = False
        self._draining = False
        self._drained: asyncio.Future[None] | None = None
        self._cb = cb
        self._sync_cb: Callable[[Message], Any] | None = None
        self._task: asyncio.Task[None] | None = None
        if cb is not None:
            if not callable(cb):
                raise InvalidCallbackTypeError(f"cb must be callable, not {type(cb).__name__}")
            if inspect.iscoroutinefunction(cb):
                self._task = asyncio.get_running_loop().create_task(self._run_callback(cb))
            else:
                self._sync_cb = cb
        #: Makes each delivered message, empty (the connection fills in its frame, data
        #: and subscription): a subclass's maker for layers that deliver their own kind
        #: of message (JetStream's), set before the first message arrives.
        self.message_factory: Callable[[], Message] = _new_plain_message
        #: A plain-function callback that ``data_received`` calls itself, the common case;
        #: ``None`` when delivery needs :meth:`deliver` (a queue, a task or a limit).
        self.direct_callback: Callable[[Message], Any] | None = None
        self._choose_delivery()

    def _choose_delivery(self) -> None:
        self.direct_callback = self._sync_cb if not self._max_msgs else None

    def __repr__(self) -> str:
        queue = f" queue={self.queue!r}" if self.queue else ""
        return f"<Subscription sid={self.sid} subject={self.subject!r}{queue}>"

    @property
    def pending_msgs(self) -> int:
        """Messages delivered but not yet taken by the consumer."""
        return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        """Payload bytes delivered but not yet taken by the consumer."""
        return self._pending_bytes

    @property
    def max_msgs(self) -> int:
        """The auto-unsubscribe limit (0 when there is none)."""
        return self._max_msgs

    @property
    def client(self) -> MessageClient:
        """The client this subscription belongs to."""
        return self._client

    @property
    def is_closed(self) -> bool:
        """Whether the subscription takes no more messages."""
        return self._closed

    def deliver(self, frame: Msg | HMsg) -> None:
        """Hand one message to the consumer when there is no ``direct_callback`` (a
        message limit, a queue, or a task). Called by the connection inside
        ``data_received``; not for applications. A queued message waits as its frame
        alone (one object, not two): its Message is made when it is taken."""
        self.delivered += 1
        if self._max_msgs and self.delivered >= self._max_msgs:
            self._owner.forget_subscription(self)
            self._closed = True
        cb = self._sync_cb
        if cb is not None:
            try:
                cb(self._message(frame))
            except Exception as exc:
                self._owner.report_error(exc)
            return
        size = len(frame.payload)
        pending = self._pending
        if (
            len(pending) >= self._pending_msgs_limit
            or self._pending_bytes + size > self._pending_bytes_limit
        ):
            self.dropped += 1
            self._owner.count_slow_consumer_drop()
            if not self._slow:
                self._slow = True
                self._owner.report_error(
                    SlowConsumerError(self.subject, self.sid, len(pending), self._pending_bytes)
                )
            return
        if self._slow:
            self._slow = False
        if frame.__class__ is Msg and frame.reply is None:
            if frame.subject == self._shared.subject:
                pending.append(frame.payload)
            elif self._shared is _NO_SHARED_SUBJECT:
                self._shared = frame
                pending.append(frame.payload)
            else:
                pending.append(frame)
        else:
            pending.append(frame)
        self._pending_bytes += size
        if self._waiters:
            if self._closed:
                self._wake()  # the last message: the other waiters learn the end
            else:
                self._wake_one()

    def next_msg_nowait(self) -> Message | None:
        """The next pending message, or ``None`` when none is pending (never waits)."""
        return self._take() if self._pending else None

    def _take(self) -> Message:
        pending = self._pending
        entry = pending.popleft()
        if entry.__class__ is bytes:
            shared = self._shared
            frame: Msg | HMsg = Msg(shared.subject, shared.sid, None, entry)
            self._pending_bytes -= len(entry)
        else:
            frame = entry  # type: ignore[assignment]
            self._pending_bytes -= len(frame.payload)
        # A callback task finishes the drain itself, once the callback has returned.
        if not pending and self._draining and self._task is None:
            self._finish_drain()
        # _message, inlined: a JetStream fetch takes hundreds in a row.
        msg = self.message_factory()
        # friend: the client builds the messages it delivers.
        msg._frame = frame
        msg.data = frame.payload
        msg._sub = self  # friend: as above
        return msg

    def _message(self, frame: Msg | HMsg) -> Message:
        """The message delivering ``frame``."""
        msg = self.message_factory()
        # friend: the client builds the messages it delivers.
        msg._frame = frame
        msg.data = frame.payload
        msg._sub = self  # friend: as above
        return msg

    def _wake_one(self) -> None:
        """A message is pending: wake the first consumer still waiting."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _wake(self) -> None:
        """Wake every waiting consumer (the subscription ends or drains)."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def _wait(self) -> None:
        # ``asyncio.wait_for`` (before Python 3.12) runs this in a task of its own that
        # starts an iteration later: messages delivered meanwhile found no waiter to wake.
        if self._pending or self._closed:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            try:
                self._waiters.remove(waiter)
            except ValueError:
                # Woken, then cancelled: the message it was woken for goes to the next.
                if self._pending:
                    self._wake_one()
            raise

    async def _run_callback(self, cb: MessageCallback) -> None:
        pending = self._pending
        while True:
            while not pending:
                if self._closed:
                    self._finish_drain()
                    return
                await self._wait()
            msg = self._take()
            try:
                await cb(msg)  # type: ignore[misc]
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._owner.report_error(exc)
            if self._closed and not pending:
                self._finish_drain()
                return

    async def next_msg(self, timeout: float | None = 1.0) -> Message:
        """The next message; raises :class:`natswire.errors.TimeoutError` after ``timeout``
        seconds (``None`` or 0 waits for ever)."""
        if self._cb is not None:
            raise ValueError("next_msg() cannot be used on a subscription with a callback")
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout < 0):
            raise BadTimeoutError(f"timeout must be a non-negative number, got {timeout!r}")
        if self._pending:
            return self._take()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        # Another consumer of the same subscription may take the message that woke us.
        while not self._pending:
            if self._closed:
                raise ConnectionClosedError(f"subscription to {self.subject!r} is closed")
            try:
                if deadline is not None:
                    await asyncio.wait_for(self._wait(), deadline - loop.time())
                else:
                    await self._wait()
            except asyncio.TimeoutError:
                raise TimeoutError(
                    f"no message on {self.subject!r} within {timeout} seconds"
                ) from None
        return self._take()

    @property
    def messages(self) -> AsyncIterator[Message]:
        """An async iterator over the messages; it ends when the subscription does."""
        if self._cb is not None:
            raise ValueError("a subscription with a callback cannot be iterated")
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        pending = self._pending
        while True:
            if pending:
                yield self._take()
            elif self._closed:
                return
            else:
                await self._wait()

    def __aiter__(self) -> AsyncIterator[Message]:
        return self.messages

    async def unsubscribe(self, limit: int = 0) -> None:
        """Stop the subscription now, or after it has received ``limit`` messages in all.

        As in nats.go and nats-py, ``limit`` counts every message this subscription
        has received, including those before the call; it is sent to the server as
        ``UNSUB <sid> <limit>`` and resent with what remains after a reconnect.
        """
        if not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be a non-negative int, got {limit!r}")
        if self._closed:
            return
        if limit and self.delivered < limit:
            self._max_msgs = limit
            self._choose_delivery()
            self._owner.send_unsubscribe(self, limit)
            return
        self._owner.send_unsubscribe(self, 0)
        self._owner.forget_subscription(self)
        self._close()

    async def drain(self) -> None:
        """Stop receiving, let the consumer take what is pending, then finish."""
        if self._closed and not self._pending:
            return
        if not self._closed and not self._draining:
            self._draining = True
            self._owner.send_unsubscribe(self, 0)
            try:
                # Messages the server routed here before it processed the UNSUB are still
                # on their way: they are delivered until the flush's PONG says none are left.
                await self._client.flush()
            finally:
                self._owner.forget_subscription(self)
                self._close()
        else:
            self._draining = True
            await self._client.flush()
        if not self._pending and (self._task is None or self._task.done()):
            self._finish_drain()
            return
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()
        self._wake()
        await self._drained

    def _finish_drain(self) -> None:
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)
        self._wake()

    def _close(self) -> None:
        """Take no more messages; the consumer still gets what is pending."""
        self._closed = True
        self._wake()

    def close_with_connection(self) -> None:
        """The connection closed: end iterators and stop the callback task. Called by
        the client; not for applications."""
        self._close()
        self._finish_drain()
        if self._task is not None and not self._task.done() and not self._pending:
            self._task.cancel()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.unsubscribe()
