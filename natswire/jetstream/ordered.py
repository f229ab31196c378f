"""The ordered consumer in pull form: ``js.ordered_pull(subject)``.

Like the push form (``js.subscribe(subject, ordered_consumer=True)``, see :mod:`.push`),
it hands out every stream message on ``subject`` once, in stream order, from an
ephemeral, in-memory, ack-none consumer it replaces, starting after the last stream
sequence it handed out, when a consumer sequence goes missing, the consumer is gone (a
server restart, a deletion from outside) or the client reconnected.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import suppress
from typing import TYPE_CHECKING

from ..client.errors import TimeoutError
from .api import AckPolicy, ConsumerConfig, DeliverPolicy
from .binding import ordered_start
from .errors import FetchTimeoutError, JetStreamError, NoHeartbeatError
from .flow import OrderedSequence
from .message import JetStreamMessage

if TYPE_CHECKING:
    from .context import JetStreamContext
    from .pull import PullSubscription

#: How long the server keeps an ordered pull consumer nobody pulls from.
DEFAULT_ORDERED_PULL_INACTIVE = 5.0
_RETRY_PAUSE = 0.1
#: Idle heartbeats asked for on longer pulls, so a lost link is noticed within a second.
_HEARTBEAT = 0.5


class OrderedPullSubscription:
    """An ordered consumer that is pulled from: :meth:`fetch` or ``async for``."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        config: ConsumerConfig,
        start_seq: int,
    ) -> None:
        self._js = js
        self._nc = js.client
        self._stream = stream
        self._config = config
        self._sequence = OrderedSequence(start_seq)
        self._name_base = secrets.token_hex(8)
        self._serial = 0
        self._psub: PullSubscription | None = None
        self._stale = True
        self._closed = False
        #: Consumers replaced so far.
        self.recoveries = 0

    def __repr__(self) -> str:
        return f"<OrderedPullSubscription stream={self._stream!r} consumer={self.consumer!r}>"

    @property
    def stream(self) -> str:
        return self._stream

    @property
    def consumer(self) -> str:
        """The current consumer's name (it changes when the consumer is replaced)."""
        return self._psub.consumer if self._psub is not None else ""

    @property
    def last_stream_seq(self) -> int:
        """The stream sequence of the last message handed out; before the first, the one
        before where the first consumer started (with ``DeliverPolicy.NEW``, the stream's
        last sequence then), or 0."""
        return self._sequence.stream_seq

    async def start(self) -> None:
        """Create the first consumer; watch reconnects."""
        self._nc.reconnect_listeners.append(self._on_reconnect)
        await self._replace()

    def _on_reconnect(self) -> None:
        self._stale = True

    async def _replace(self) -> None:
        """A new consumer after the last message handed out; the old one deleted."""
        old = self._psub
        self._psub = None
        if old is not None:
            await old.unsubscribe()
            with suppress(Exception):
                await self._js.delete_consumer(self._stream, old.consumer)
        sequence = self._sequence
        name = f"{self._name_base}_{self._serial}"
        self._serial += 1
        cfg = sequence.replacement(self._config, name=name)
        info = await self._js.add_consumer(self._stream, cfg)
        if not sequence.position_known:
            sequence.start_at(ordered_start(cfg, info))
        self._psub = await self._js.pull_subscribe_bind(name, self._stream)
        self._stale = False
        if old is not None:
            self.recoveries += 1

    async def fetch(self, batch: int = 1, timeout: float | None = 5.0) -> list[JetStreamMessage]:
        """Up to ``batch`` messages, the next in stream order, within ``timeout`` seconds;
        raises :class:`natswire.errors.TimeoutError` when none came."""
        if self._closed:
            raise JetStreamError("the ordered consumer was unsubscribed")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout or 5.0)
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0.01:
                raise FetchTimeoutError(f"no message from the ordered consumer in {timeout} s")
            try:
                if self._stale or self._psub is None:
                    await self._replace()
                heartbeat = _HEARTBEAT if remaining >= 3 * _HEARTBEAT else None
                msgs = await self._psub.fetch(batch, remaining, heartbeat)  # type: ignore[union-attr]
            except NoHeartbeatError:
                self._stale = True  # a lost link or a consumer gone: replace it
                continue
            except TimeoutError:
                raise
            except JetStreamError:
                self._stale = True  # gone (deleted, restarted): replace it
                await asyncio.sleep(_RETRY_PAUSE)
                continue
            taken: list[JetStreamMessage] = []
            for msg in msgs:
                seq = msg.metadata.sequence
                if not self._sequence.accept(seq.consumer, seq.stream):
                    self._stale = True
                    break
                taken.append(msg)
            if taken:
                return taken

    def __aiter__(self) -> AsyncIterator[JetStreamMessage]:
        return self.consume()

    async def consume(self, batch: int = 100) -> AsyncGenerator[JetStreamMessage, None]:
        """Messages as they come, ``batch`` asked for per pull and the next pull sent
        when half of them have arrived (as ``PullSubscription.consume`` does); what
        ``async for`` iterates with the default ``batch``."""
        while not self._closed:
            try:
                if self._stale or self._psub is None:
                    await self._replace()
                assert self._psub is not None
                # Its consumer is ephemeral: unanswered, it is replaced at once. The
                # generator is closed when leaving early.
                stream = self._psub.consume(batch, 5.0, _HEARTBEAT, wait_for_leader=False)
                try:
                    async for msg in stream:
                        seq = msg.metadata.sequence
                        if not self._sequence.accept(seq.consumer, seq.stream):
                            self._stale = True
                            break
                        yield msg
                        if self._stale or self._closed:
                            break
                finally:
                    await stream.aclose()
            except (JetStreamError, TimeoutError):
                self._stale = True  # gone (deleted, restarted) or unanswered: replace it
                await asyncio.sleep(_RETRY_PAUSE)

    async def unsubscribe(self) -> None:
        """Stop, and delete the consumer (best effort)."""
        self._closed = True
        with suppress(ValueError):
            self._nc.reconnect_listeners.remove(self._on_reconnect)
        if self._psub is not None:
            await self._psub.unsubscribe()
            with suppress(Exception):
                await self._js.delete_consumer(self._stream, self._psub.consumer)


def ordered_pull_config(
    subject: str, deliver_policy: DeliverPolicy | None, headers_only: bool | None
) -> ConsumerConfig:
    """An ordered pull consumer's configuration (ADR-17)."""
    return ConsumerConfig(
        filter_subject=subject,
        deliver_policy=deliver_policy,
        ack_policy=AckPolicy.NONE,
        max_deliver=1,
        num_replicas=1,
        mem_storage=True,
        headers_only=headers_only,
        inactive_threshold=DEFAULT_ORDERED_PULL_INACTIVE,
    )
