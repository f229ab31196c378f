"""Subscriptions of the blocking client: where delivered messages wait for their
consumer, a thread calling :meth:`Subscription.next_msg` or the delivery thread."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from time import monotonic
from typing import Any

from ..client.errors import BadTimeoutError, ConnectionClosedError, SlowConsumerError, TimeoutError
from ..protocol.frames import HMsg, Msg
from ..protocol.serializer import encode_sub, encode_unsub, subscribe_subject
from .message import Message, Responder

#: A message callback: a plain function, run on the client's delivery thread.
MessageCallback = Callable[[Message], Any]


@dataclass(frozen=True, slots=True)
class SubscriptionHooks:
    """The calls a subscription makes into its client (private methods of the client)."""

    #: What delivered messages respond through: the client.
    responder: Responder
    #: Send ``UNSUB`` for a sid (after ``limit`` messages in all; 0: now).
    send_unsubscribe: Callable[[int, int], None]
    #: Deliver nothing more to a sid.
    forget_subscription: Callable[[int], None]
    #: Have the delivery thread hand the subscription's next message to its callback.
    run_callback: Callable[[Subscription], None]
    #: Hand an asynchronous error to ``error_cb``.
    report_error: Callable[[Exception], None]


class Subscription:
    """Interest in a subject. Without a callback, take messages with :meth:`next_msg` or
    by iterating; with one, the client's delivery thread calls it for each message.

    ``direct``, for the client's own use, is called on the reader thread itself.
    """

    def __init__(
        self,
        owner: SubscriptionHooks,
        sid: int,
        subject: str,
        queue: str,
        cb: MessageCallback | None,
        max_msgs: int,
        pending_msgs_limit: int,
        pending_bytes_limit: int,
        direct: Callable[[Message], None] | None = None,
    ) -> None:
        self._owner = owner
        self._responder = owner.responder
        self.sid = sid
        self.subject = subject
        self.queue = queue
        self.max_msgs = max_msgs
        #: Messages handed to this subscription (queued or passed on).
        self.delivered = 0
        #: Messages dropped because the pending limits were reached.
        self.dropped = 0
        self._cb = cb
        self._direct = direct
        self._pending: deque[Message] = deque()
        self._pending_bytes = 0
        self._msgs_limit = pending_msgs_limit
        self._bytes_limit = pending_bytes_limit
        self._cond = threading.Condition(threading.Lock())
        self._waiters = 0
        self._running = 0
        self._slow = False
        self._closed = False

    def __repr__(self) -> str:
        queue = f" queue={self.queue!r}" if self.queue else ""
        return f"<Subscription sid={self.sid} subject={self.subject!r}{queue}>"

    @property
    def pending_msgs(self) -> int:
        """Messages received and not yet taken (or passed to the callback)."""
        return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    @property
    def is_closed(self) -> bool:
        return self._closed

    # ---------------------------------------------------- the reader thread's side

    def deliver(self, frame: Msg | HMsg) -> None:
        """A message for this subscription arrived (called on the reader thread)."""
        msg = Message.received(frame, self._responder)
        self.delivered += 1
        last = self.max_msgs and self.delivered >= self.max_msgs
        if last:
            self._owner.forget_subscription(self.sid)
        direct = self._direct
        if direct is not None:
            direct(msg)
            return
        size = len(frame.payload)
        with self._cond:
            if (
                len(self._pending) >= self._msgs_limit
                or self._pending_bytes + size > self._bytes_limit
            ):
                self.dropped += 1
                report = not self._slow
                self._slow = True
            else:
                report = False
                self._slow = False
                self._pending.append(msg)
                self._pending_bytes += size
                if self._waiters:
                    self._cond.notify()
            if last:
                self._closed = True
                self._cond.notify_all()
        if report:
            self._owner.report_error(
                SlowConsumerError(self.subject, self.sid, len(self._pending), self._pending_bytes)
            )
        elif self._cb is not None:
            self._owner.run_callback(self)

    def run_next_callback(self) -> None:
        """Hand the next pending message to the callback (on the delivery thread)."""
        cb = self._cb
        with self._cond:
            if not self._pending or cb is None:
                return
            msg = self._take()
            self._running += 1
        try:
            cb(msg)
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def _take(self) -> Message:
        msg = self._pending.popleft()
        self._pending_bytes -= len(msg.data)
        return msg

    # ------------------------------------------------------- the consumer's side

    def next_msg(self, timeout: float | None = 1.0) -> Message:
        """The next message; raises :class:`natswire.errors.TimeoutError` after
        ``timeout`` seconds (``None``: wait for ever) and
        :class:`natswire.errors.ConnectionClosedError` once the subscription is closed
        and empty."""
        if self._cb is not None:
            raise ValueError("next_msg() cannot be used on a subscription with a callback")
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout < 0):
            raise BadTimeoutError(f"timeout must be a non-negative number, got {timeout!r}")
        deadline = None if timeout is None else monotonic() + timeout
        with self._cond:
            while not self._pending:
                if self._closed:
                    raise ConnectionClosedError(f"subscription to {self.subject!r} is closed")
                remaining = None if deadline is None else deadline - monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"no message on {self.subject!r} within {timeout} s")
                self._waiters += 1
                try:
                    self._cond.wait(remaining)
                finally:
                    self._waiters -= 1
            return self._take()

    def __iter__(self) -> Iterator[Message]:
        """Every message until the subscription is closed (blocks while none is pending)."""
        while True:
            try:
                yield self.next_msg(None)
            except ConnectionClosedError:
                return

    @property
    def messages(self) -> Iterator[Message]:
        """``for msg in sub.messages``: the same as iterating the subscription."""
        return iter(self)

    def unsubscribe(self, limit: int = 0) -> None:
        """Stop now (``limit=0``), or after ``limit`` messages in all."""
        if not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be a non-negative int, got {limit!r}")
        if self._closed:
            return
        if limit and self.delivered < limit:
            self.max_msgs = limit
            self._owner.send_unsubscribe(self.sid, limit)
            return
        self._owner.send_unsubscribe(self.sid, 0)
        self._owner.forget_subscription(self.sid)
        self.close()

    def wait_drained(self, deadline: float) -> bool:
        """Wait until no message is pending or in a callback, or ``deadline``
        (``monotonic()`` time) passes; whether it drained."""
        with self._cond:
            while (self._pending and self._cb is not None) or self._running:
                remaining = deadline - monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self) -> None:
        """Deliver nothing more; ``next_msg`` returns what is pending, then raises."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class SubscriptionTable:
    """A client's subscriptions by sid (read by the reader thread without a lock: a
    dict lookup is atomic), and the sids handed out."""

    def __init__(self) -> None:
        #: Subscriptions by sid as the server writes it (bytes).
        self.by_sid: dict[bytes, Subscription] = {}
        self._next_sid = 1
        self._lock = threading.Lock()

    def add(
        self,
        hooks: SubscriptionHooks,
        subject: str,
        queue: str,
        cb: MessageCallback | None,
        max_msgs: int,
        limits: tuple[int, int],
        direct: Callable[[Message], None] | None,
    ) -> tuple[Subscription, bytes]:
        """A new subscription, and the SUB (and UNSUB for ``max_msgs``) lines to send.
        Raises :class:`BadSubjectError` for a bad subject or queue name."""
        subscribe_subject(subject)
        with self._lock:
            sid = self._next_sid
            self._next_sid += 1
        line = encode_sub(subject, sid, queue or None)
        if max_msgs:
            line += encode_unsub(sid, max_msgs)
        sub = Subscription(hooks, sid, subject, queue, cb, max_msgs, *limits, direct)
        self.by_sid[str(sid).encode()] = sub
        return sub, line

    def forget(self, sid: int) -> None:
        """Deliver nothing more to ``sid``."""
        self.by_sid.pop(str(sid).encode(), None)

    def all(self) -> list[Subscription]:
        return list(self.by_sid.values())

    def resubscribe_lines(self) -> bytes:
        """SUB (and UNSUB for what is left of ``max_msgs``) for every subscription, for
        a new link."""
        lines = bytearray()
        for sub in self.all():
            lines += encode_sub(sub.subject, sub.sid, sub.queue or None)
            if sub.max_msgs:
                lines += encode_unsub(sub.sid, max(sub.max_msgs - sub.delivered, 0))
        return bytes(lines)

    def close_all(self) -> None:
        """The client closed: close and forget every subscription."""
        for sub in self.all():
            sub.close()
        self.by_sid.clear()
