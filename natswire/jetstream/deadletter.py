"""Dead letters: messages a consumer gave up on.

The server emits an advisory when a message reaches the consumer's ``max_deliver``
(``$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>``) and when a client
terminates one with ``term()`` (``...MSG_TERMINATED.<stream>.<consumer>``). Both carry
the stream sequence, so the message can be read back with ``get_msg`` and moved to a
dead-letter stream.

The server gives up on a message (and sends MAX_DELIVERIES) when it would deliver it
once more: for a pull consumer, when a pull request is waiting, not at the last nak.
Advisories are core NATS messages: one emitted while nobody listens is gone. Start
the watcher before the consumer runs (or capture the advisory subjects in a stream of
their own). With work-queue or interest retention a terminated message may already be
removed from the stream; with limits retention it stays until the limits drop it.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..client.errors import ConnectionClosedError, TimeoutError
from ..client.message import Message
from ..client.subscription import Subscription
from ..protocol.headers import Headers
from .api import Header, PubAck, RawStreamMsg

if TYPE_CHECKING:
    from .context import JetStreamContext

MAX_DELIVERIES = "max_deliveries"
TERMINATED = "terminated"
ADVISORY_MAX_DELIVERIES = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"
ADVISORY_MSG_TERMINATED = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED"


@dataclass(frozen=True)
class DeadLetter:
    """One message a consumer gave up on."""

    stream: str
    consumer: str
    #: The message's sequence in ``stream``: read it with ``js.get_msg(stream, seq)``.
    stream_seq: int
    #: How many times it was delivered.
    deliveries: int
    #: :data:`MAX_DELIVERIES` or :data:`TERMINATED`.
    reason: str
    #: The text given to ``term(reason)``, if any.
    description: str = ""
    #: The advisory as the server sent it.
    advisory: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def parse_advisory(subject: str, data: bytes) -> DeadLetter | None:
    """The :class:`DeadLetter` in a MAX_DELIVERIES or MSG_TERMINATED advisory, else None."""
    if subject.startswith(ADVISORY_MAX_DELIVERIES + "."):
        reason = MAX_DELIVERIES
    elif subject.startswith(ADVISORY_MSG_TERMINATED + "."):
        reason = TERMINATED
    else:
        return None
    try:
        advisory = json.loads(data)
        return DeadLetter(
            stream=str(advisory["stream"]),
            consumer=str(advisory["consumer"]),
            stream_seq=int(advisory["stream_seq"]),
            deliveries=int(advisory.get("deliveries", 0)),
            reason=reason,
            description=str(advisory.get("reason") or ""),
            advisory=advisory,
        )
    except (ValueError, KeyError, TypeError):
        return None


class DeadLetterSubscription:
    """Dead letters of one stream's consumer(s), from ``js.dead_letters(stream, consumer)``.

    Take them with :meth:`next` or ``async for dead in watcher``, or pass ``cb`` (a
    plain or coroutine function) to be called with each. :meth:`get` reads the message
    back; :meth:`move` republishes it to a dead-letter subject.
    """

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        consumer: str,
        cb: Callable[[DeadLetter], Any] | None,
    ) -> None:
        self._js = js
        self.stream = stream
        self.consumer = consumer
        self._cb = cb
        self._subs: list[Subscription] = []
        self._pending: deque[DeadLetter] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Subscribe to the advisories (:meth:`JetStreamContext.dead_letters` does)."""
        nc = self._js.client
        for base in (ADVISORY_MAX_DELIVERIES, ADVISORY_MSG_TERMINATED):
            sub = await nc.subscribe(f"{base}.{self.stream}.{self.consumer}", cb=self._on_msg)
            self._subs.append(sub)
        await nc.flush()

    def _on_msg(self, msg: Message) -> None:
        dead = parse_advisory(msg.subject, msg.data)
        if dead is None:
            return
        if self._cb is not None:
            result = self._cb(dead)
            if asyncio.iscoroutine(result):
                task = asyncio.get_running_loop().create_task(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return
        self._pending.append(dead)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self, timeout: float | None = 5.0) -> DeadLetter:
        """The next dead letter; :class:`natswire.errors.TimeoutError` after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._pending:
            if self._closed:
                raise ConnectionClosedError("dead-letter subscription is closed")
            waiter = self._waiter = loop.create_future()
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            try:
                await asyncio.wait_for(waiter, remaining)
            except asyncio.TimeoutError:
                break
        if not self._pending:
            raise TimeoutError(
                f"no dead letter from {self.stream}.{self.consumer} within {timeout} s"
            )
        return self._pending.popleft()

    async def __aiter__(self) -> AsyncIterator[DeadLetter]:
        while True:
            try:
                yield await self.next(None)
            except ConnectionClosedError:
                return

    async def get(self, dead: DeadLetter) -> RawStreamMsg:
        """The dead message, read back from its stream."""
        return await self._js.get_msg(dead.stream, dead.stream_seq)

    async def move(self, dead: DeadLetter, subject: str) -> PubAck:
        """Republish the dead message to ``subject`` (a dead-letter stream's subject).

        The copy keeps the payload and headers and adds ``Nats-DLQ-Stream``,
        ``Nats-DLQ-Consumer``, ``Nats-DLQ-Sequence``, ``Nats-DLQ-Subject``,
        ``Nats-DLQ-Reason`` and ``Nats-DLQ-Deliveries``; its message id is
        ``dlq.<stream>.<seq>``, so moving the same dead letter twice stores it once.
        """
        raw = await self.get(dead)
        headers = Headers(raw.headers)
        headers.status = None
        headers.description = ""
        for name in (
            Header.MSG_ID,
            Header.EXPECTED_STREAM,
            Header.EXPECTED_LAST_SEQUENCE,
            Header.EXPECTED_LAST_SUBJECT_SEQUENCE,
            Header.EXPECTED_LAST_MSG_ID,
        ):
            headers.pop(name.value, None)
        headers["Nats-DLQ-Stream"] = dead.stream
        headers["Nats-DLQ-Consumer"] = dead.consumer
        headers["Nats-DLQ-Sequence"] = str(dead.stream_seq)
        headers["Nats-DLQ-Subject"] = raw.subject or ""
        headers["Nats-DLQ-Reason"] = dead.reason
        headers["Nats-DLQ-Deliveries"] = str(dead.deliveries)
        return await self._js.publish(
            subject, raw.data, headers=headers, msg_id=f"dlq.{dead.stream}.{dead.stream_seq}"
        )

    async def unsubscribe(self) -> None:
        """Stop watching."""
        self._closed = True
        for sub in self._subs:
            await sub.unsubscribe()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def __aenter__(self) -> DeadLetterSubscription:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.unsubscribe()
