"""Adapter metrics: the channel pool and per-queue message counters.

Each consumer holds its queue's :class:`QueueCounters` object and bumps an attribute per
delivery and per settlement; everything else (channel pool use, unacknowledged
deliveries) is read from the connection when :class:`AdapterStats` is read.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .channel import Channel
    from .connection import Connection
    from .consumer import Consumer


@dataclass
class QueueCounters:
    """What happened to one queue's messages through this connection.

    ``delivered``: handed to a consumer callback; ``acked``: acknowledged (auto-ack
    included); ``nacked``: nack or reject calls (requeued or not); ``dead_lettered``:
    republished to the queue's dead-letter exchange (rejected, expired or over the
    delivery limit); ``dropped``: rejected or expired without a dead-letter exchange,
    or transient and expired.
    """

    delivered: int = 0
    acked: int = 0
    nacked: int = 0
    dead_lettered: int = 0
    dropped: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a dict."""
        return asdict(self)


class AdapterStats:
    """Metrics of one adapter :class:`~natswire.amqp.Connection`, read when asked.

    The connection hands over the live tables it keeps (open channels, started
    consumers, per-queue counters); they are read, never changed, here.
    """

    __slots__ = ("_channels", "_conn", "_consumers", "_queue_counters")

    def __init__(
        self,
        conn: Connection,
        channels: Mapping[int, Channel],
        consumers: Collection[Consumer],
        queue_counters: Mapping[str, QueueCounters],
    ) -> None:
        self._conn = conn
        self._channels = channels
        self._consumers = consumers
        self._queue_counters = queue_counters

    @property
    def channels_open(self) -> int:
        """Channels open on the connection."""
        return len(self._channels)

    @property
    def max_channels(self) -> int:
        """The channel pool's size."""
        return self._conn.max_channels

    @property
    def channel_pool_use(self) -> float:
        """Open channels as a fraction of ``max_channels`` (1.0: the next
        ``channel()`` raises :class:`TooManyChannelsError`)."""
        return self.channels_open / self._conn.max_channels

    @property
    def consumers(self) -> int:
        """Active ``basic_consume`` consumers on this connection."""
        return len(self._consumers)

    @property
    def unacked(self) -> int:
        """Deliveries held by the application, on every channel."""
        return sum(ch.unacked_count for ch in list(self._channels.values()))

    @property
    def queues(self) -> dict[str, QueueCounters]:
        """Per-queue counters (copies), for every queue consumed or settled here."""
        return {
            name: QueueCounters(**counters.as_dict())
            for name, counters in list(self._queue_counters.items())
        }

    def queue(self, name: str) -> QueueCounters:
        """One queue's counters (zeros for a queue not seen here)."""
        counters = self._queue_counters.get(name)
        return QueueCounters() if counters is None else QueueCounters(**counters.as_dict())

    def snapshot(self) -> dict[str, Any]:
        """Everything as plain, JSON-serializable data."""
        return {
            "namespace": self._conn.namespace,
            "channels_open": self.channels_open,
            "max_channels": self.max_channels,
            "channel_pool_use": self.channel_pool_use,
            "consumers": self.consumers,
            "unacked": self.unacked,
            "queues": {name: c.as_dict() for name, c in self.queues.items()},
        }

    def __repr__(self) -> str:
        return (
            f"AdapterStats(channels={self.channels_open}/{self.max_channels}, "
            f"consumers={self.consumers}, unacked={self.unacked})"
        )
