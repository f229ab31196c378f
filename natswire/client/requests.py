"""The request multiplexer: one wildcard inbox for every reply, one timer for every
deadline, and old-style requests (an inbox subscription each)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from ..protocol.frames import Msg
from ..protocol.headers import HeadersLike
from .deadlines import NEVER, RequestDeadlines
from .errors import NoRespondersError, TimeoutError
from .message import Message
from .stats import RequestMetrics

if TYPE_CHECKING:
    from .subscription import MessageCallback, Subscription

_NO_RESPONDERS_STATUS = b"NATS/1.0 503"

#: A request waiting for its reply: (future, subject, timeout).
PendingRequest: TypeAlias = "tuple[asyncio.Future[Message], str, float]"


class RequestHost(Protocol):
    """The client calls the multiplexer makes to subscribe and publish."""

    async def subscribe(
        self,
        subject: str,
        queue: str = ...,
        cb: MessageCallback | None = ...,
        *,
        max_msgs: int = ...,
    ) -> Subscription: ...

    async def publish(
        self,
        subject: str | bytes,
        payload: bytes | bytearray | memoryview = ...,
        reply: str | bytes = ...,
        headers: HeadersLike | None = ...,
    ) -> None: ...

    def new_inbox(self) -> str: ...


def create_future() -> asyncio.Future[Any]:
    """A future of the running loop."""
    return asyncio.get_running_loop().create_future()


def future_factory(loop: asyncio.AbstractEventLoop) -> Callable[[], asyncio.Future[Any]]:
    """``loop.create_future``, or the same without its Python frame on the stock loop
    (a request's future, made on the request fast path)."""
    if type(loop).create_future is asyncio.BaseEventLoop.create_future:
        return functools.partial(asyncio.Future, loop=loop)
    return loop.create_future


def is_no_responders(msg: Message) -> bool:
    """Whether ``msg`` is the server's "no responders" status message."""
    frame = msg.frame
    raw = getattr(frame, "raw_headers", None)
    return raw is not None and not frame.payload and raw.startswith(_NO_RESPONDERS_STATUS)


class RequestMultiplexer:
    """Pending requests by reply subject, answered through one inbox subscription.

    The client publishes each request and awaits its future; :meth:`on_response`
    resolves it, and one event-loop timer fails those whose deadline
    (:class:`RequestDeadlines`) has passed.
    """

    def __init__(self) -> None:
        #: Requests waiting for their reply, by reply subject.
        self.waiting: dict[bytes, PendingRequest] = {}
        self.metrics = RequestMetrics()
        self.deadlines = RequestDeadlines(self.waiting)
        #: The wildcard inbox subscription, made by the first request.
        self.inbox: Subscription | None = None
        #: The connection's inbox prefix (``<inbox_prefix>.<random>``), set at connect.
        self.inbox_prefix = b""
        self._reply_prefix = b""
        self._next_token = 0
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = NEVER

    @property
    def pending(self) -> int:
        """How many requests wait for their reply."""
        return len(self.waiting)

    async def start_inbox(self, host: RequestHost) -> None:
        """Subscribe to the wildcard inbox every reply comes to."""
        self._reply_prefix = self.inbox_prefix + b"."
        self.inbox = await host.subscribe(self._reply_prefix.decode() + "*", cb=self.on_response)

    def next_reply(self) -> bytes:
        """A reply subject no other request of this connection uses."""
        self._next_token += 1
        return b"%b%x" % (self._reply_prefix, self._next_token)

    def add(
        self,
        reply: bytes,
        future: asyncio.Future[Message],
        subject: str,
        timeout: float,
        now: float,
    ) -> None:
        """Wait for a reply on ``reply`` until ``now + timeout``."""
        self.waiting[reply] = (future, subject, timeout)
        deadline = now + timeout
        self.deadlines.add(reply, timeout, deadline)
        if deadline < self._armed_for:
            self._arm(deadline, now)

    def on_response(self, msg: Message) -> None:
        """The inbox callback: resolve the request the reply belongs to."""
        frame = msg.frame
        entry = self.waiting.pop(frame.subject, None)
        if entry is None:
            return
        try:
            if frame.__class__ is Msg or not is_no_responders(msg):
                entry[0].set_result(msg)
            else:
                entry[0].set_exception(NoRespondersError("no responders"))
        except asyncio.InvalidStateError:
            pass  # cancelled with its task, which has not yet removed the entry

    def close(self, error: Exception) -> None:
        """The connection closed: fail every pending request with ``error``."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed_for = NEVER
        self.deadlines.clear()
        for future, *_ in self.waiting.values():
            if not future.done():
                future.set_exception(error)
        self.waiting.clear()
        self.inbox = None

    def _arm(self, deadline: float, now: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_for = deadline
        self._timer = asyncio.get_running_loop().call_later(deadline - now, self._on_timer)

    def _on_timer(self) -> None:
        now = monotonic()
        # The loop may run the timer a little early (clock resolution): the deadline
        # it was armed for counts as reached, as it would for a timer per request.
        keys, earliest = self.deadlines.due(max(now, self._armed_for))
        self._timer = None
        self._armed_for = NEVER
        for key in keys:
            future, subject, timeout = self.waiting.pop(key)
            if not future.done():
                future.set_exception(
                    TimeoutError(f"no reply to the request on {subject!r} within {timeout} s")
                )
        if earliest < NEVER:
            self._arm(earliest, now)

    async def request_old_style(
        self,
        host: RequestHost,
        subject: str,
        payload: bytes,
        timeout: float,
        headers: HeadersLike | None,
    ) -> Message:
        """A request with an inbox subscription of its own (nats-py's ``old_style``)."""
        inbox = host.new_inbox()
        sub = await host.subscribe(inbox, max_msgs=1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await host.publish(subject, payload, inbox, headers)
            msg = await sub.next_msg(timeout)
        except Exception as exc:
            self.metrics.count_failure(type(exc))
            raise
        finally:
            await sub.unsubscribe()
        if is_no_responders(msg):
            self.metrics.count_failure(NoRespondersError)
            raise NoRespondersError(f"no responders on {subject!r}")
        self.metrics.latency.observe(loop.time() - started)
        return msg
