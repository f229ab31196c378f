"""The client's counters and the :class:`Stats` view that reads them when asked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .metrics import HistogramSnapshot, LatencyHistogram, SubscriptionPending

if TYPE_CHECKING:
    from .options import ConnectOptions
    from .state import Status
    from .subscription import Subscription


class Counters:
    """Plain counters shared by the client, its connections and subscriptions.

    Public attributes, bumped in place on the receive path (no call per message) and
    read by :class:`Stats`.
    """

    __slots__ = (
        "errors_by_class",
        "errors_received",
        "in_bytes",
        "in_msgs",
        "reconnects",
        "slow_consumer_drops",
    )

    def __init__(self) -> None:
        self.in_msgs = 0
        self.in_bytes = 0
        self.reconnects = 0
        #: ``-ERR`` lines received from the server.
        self.errors_received = 0
        #: Messages dropped because a subscription's pending limits were reached.
        self.slow_consumer_drops = 0
        #: Asynchronous errors (those given to ``error_cb``) by class name.
        self.errors_by_class: dict[str, int] = {}

    def count_error(self, error: BaseException) -> None:
        name = type(error).__name__
        self.errors_by_class[name] = self.errors_by_class.get(name, 0) + 1


class RequestMetrics:
    """What the request multiplexer measures: failures by class, reply latency."""

    __slots__ = ("failures", "latency")

    def __init__(self) -> None:
        self.failures: dict[str, int] = {}
        self.latency = LatencyHistogram()

    def count_failure(self, kind: type[BaseException]) -> None:
        self.failures[kind.__name__] = self.failures.get(kind.__name__, 0) + 1


class StatsSource(Protocol):
    """The public reads of a client that :class:`Stats` reports besides its counters."""

    @property
    def options(self) -> ConnectOptions: ...

    @property
    def status(self) -> Status: ...

    @property
    def connected_url(self) -> str | None: ...

    @property
    def pending_data_size(self) -> int: ...


class Stats:
    """Counters and metrics of one client, read when asked.

    The nats-py counters (``in_msgs``, ``out_msgs``, ``in_bytes``, ``out_bytes``,
    ``reconnects``, ``errors_received``) work as attributes and as ``stats["in_msgs"]``;
    :meth:`as_dict` gives those. The rest is derived when read, so the message paths
    pay nothing for it: asynchronous errors by class, failed requests by class,
    slow-consumer drops, pending messages per subscription, the request latency
    histogram and outbound buffer use. :meth:`snapshot` gives everything as plain data.
    """

    __slots__ = ("_counters", "_outbound", "_requests", "_source", "_subscriptions", "_transport")

    KEYS = ("in_msgs", "out_msgs", "in_bytes", "out_bytes", "reconnects", "errors_received")

    def __init__(
        self,
        source: StatsSource,
        counters: Counters,
        requests: RequestMetrics,
        subscriptions: Mapping[bytes, Subscription],
        outbound: Callable[[], tuple[int, int]],
        transport_buffer: Callable[[], int],
    ) -> None:
        """``outbound()`` gives (messages, bytes) published; ``transport_buffer()`` the
        bytes the transport holds."""
        self._source = source
        self._counters = counters
        self._requests = requests
        self._subscriptions = subscriptions
        self._outbound = outbound
        self._transport = transport_buffer

    @property
    def in_msgs(self) -> int:
        return self._counters.in_msgs

    @property
    def out_msgs(self) -> int:
        return self._outbound()[0]

    @property
    def in_bytes(self) -> int:
        return self._counters.in_bytes

    @property
    def out_bytes(self) -> int:
        return self._outbound()[1]

    @property
    def reconnects(self) -> int:
        return self._counters.reconnects

    @property
    def errors_received(self) -> int:
        """``-ERR`` lines received from the server."""
        return self._counters.errors_received

    @property
    def errors(self) -> dict[str, int]:
        """Asynchronous errors (those given to ``error_cb``) by class name."""
        return dict(self._counters.errors_by_class)

    @property
    def request_failures(self) -> dict[str, int]:
        """Requests that raised (timeout, no responders, ...) by class name."""
        return dict(self._requests.failures)

    @property
    def slow_consumer_drops(self) -> int:
        """Messages dropped because a subscription's pending limits were reached."""
        return self._counters.slow_consumer_drops

    @property
    def request_latency(self) -> HistogramSnapshot:
        """Seconds from sending a request to its reply, as a fixed-bucket histogram."""
        return self._requests.latency.snapshot()

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
            for sub in list(self._subscriptions.values())
        ]

    @property
    def pending_msgs(self) -> int:
        """Messages delivered to subscriptions and not yet taken, in all."""
        return sum(sub.pending_msgs for sub in list(self._subscriptions.values()))

    @property
    def pending_bytes(self) -> int:
        return sum(sub.pending_bytes for sub in list(self._subscriptions.values()))

    @property
    def outbound_buffer_bytes(self) -> int:
        """Bytes published but not yet handed to the transport (while disconnected: the
        reconnect buffer, bounded by the ``pending_size`` option)."""
        return self._source.pending_data_size

    @property
    def outbound_buffer_limit(self) -> int:
        return int(self._source.options.pending_size)

    @property
    def transport_buffer_bytes(self) -> int:
        """Bytes the transport holds, not yet written to the socket."""
        return self._transport()

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
        return {
            **self.as_dict(),
            "status": self._source.status.value,
            "connected_url": self._source.connected_url,
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
