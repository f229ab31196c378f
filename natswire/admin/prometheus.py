"""Prometheus metrics of natswire clients and adapter connections (the optional extra
``natswire[prometheus]``, which installs ``prometheus_client``).

::

    from natswire.admin.prometheus import register

    collector = register(client=nc, adapter=conn)   # on prometheus_client.REGISTRY
    # prometheus_client.start_http_server(9100), or generate_latest() in your handler

The collector reads ``nc.stats`` and ``conn.stats`` at each scrape: nothing is
recorded per message on behalf of Prometheus. Several clients and adapters share one
collector, told apart by the ``client`` and ``namespace`` labels.

Client metrics (label ``client``): ``natswire_client_{in,out}_{msgs,bytes}_total``,
``natswire_client_reconnects_total``, ``natswire_client_server_errors_total``,
``natswire_client_errors_total{class}``, ``natswire_client_request_failures_total{class}``,
``natswire_client_slow_consumer_drops_total``, ``natswire_client_request_latency_seconds``
(histogram), ``natswire_client_connected``, ``natswire_client_subscriptions``,
``natswire_client_pending_messages`` and ``_pending_bytes`` (per ``subject``),
``natswire_client_outbound_buffer_bytes``, ``natswire_client_transport_buffer_bytes``.

Adapter metrics (label ``namespace``): ``natswire_amqp_channels_open``,
``natswire_amqp_channels_max``, ``natswire_amqp_channel_pool_use`` (0..1),
``natswire_amqp_consumers``, ``natswire_amqp_unacked``, and per ``queue``
``natswire_amqp_queue_{delivered,acked,nacked,dead_lettered,dropped}_total``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator
from typing import Any

from ..amqp.connection import Connection as AdapterConnection
from ..client.client import Client

_MISSING = (
    "natswire's Prometheus metrics need prometheus_client: pip install 'natswire[prometheus]'"
)


def _prometheus(module: str = "prometheus_client") -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(_MISSING) from exc


class NatswireCollector:
    """A ``prometheus_client`` collector over natswire clients and adapter connections.

    ``add_client(nc, name)`` and ``add_adapter(conn, name)`` add sources (``name`` is the
    label value; default the client's connection name, or the adapter's namespace).
    """

    def __init__(self, *, prefix: str = "natswire") -> None:
        _prometheus()  # fail now, not at the first scrape
        self.prefix = prefix
        self._clients: list[tuple[str, Client]] = []
        self._adapters: list[tuple[str, AdapterConnection]] = []

    def add_client(self, nc: Client, name: str | None = None) -> NatswireCollector:
        label = name if name is not None else (nc.options.name or f"client{len(self._clients)}")
        self._clients.append((label, nc))
        return self

    def add_adapter(self, conn: AdapterConnection, name: str | None = None) -> NatswireCollector:
        self._adapters.append((conn.namespace if name is None else name, conn))
        return self

    def remove(self, source: Client | AdapterConnection) -> None:
        self._clients = [(n, c) for n, c in self._clients if c is not source]
        self._adapters = [(n, a) for n, a in self._adapters if a is not source]

    # The registry calls describe() to learn the names; none are fixed up front
    # because the sources change, so collect() alone describes them.
    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        core = _prometheus("prometheus_client.core")
        yield from self._collect_clients(core)
        yield from self._collect_adapters(core)

    def _collect_clients(self, core: Any) -> Iterator[Any]:
        p = f"{self.prefix}_client"
        counter, gauge = core.CounterMetricFamily, core.GaugeMetricFamily
        labels = ["client"]
        plain = {
            "in_msgs": counter(f"{p}_in_msgs", "Messages received", labels=labels),
            "out_msgs": counter(f"{p}_out_msgs", "Messages published", labels=labels),
            "in_bytes": counter(f"{p}_in_bytes", "Payload bytes received", labels=labels),
            "out_bytes": counter(f"{p}_out_bytes", "Payload bytes published", labels=labels),
            "reconnects": counter(f"{p}_reconnects", "Reconnections", labels=labels),
            "errors_received": counter(
                f"{p}_server_errors", "-ERR lines received from the server", labels=labels
            ),
            "slow_consumer_drops": counter(
                f"{p}_slow_consumer_drops",
                "Messages dropped at a subscription's pending limits",
                labels=labels,
            ),
        }
        errors = counter(f"{p}_errors", "Asynchronous errors by class", labels=["client", "class"])
        failures = counter(
            f"{p}_request_failures", "Failed requests by class", labels=["client", "class"]
        )
        latency = core.HistogramMetricFamily(
            f"{p}_request_latency_seconds", "Request to reply latency", labels=labels
        )
        connected = gauge(f"{p}_connected", "1 when connected", labels=labels)
        subs = gauge(f"{p}_subscriptions", "Live subscriptions", labels=labels)
        pending_msgs = gauge(
            f"{p}_pending_messages",
            "Messages delivered to a subscription, not yet taken",
            labels=["client", "subject", "sid"],
        )
        pending_bytes = gauge(
            f"{p}_pending_bytes",
            "Payload bytes delivered to a subscription, not yet taken",
            labels=["client", "subject", "sid"],
        )
        outbound = gauge(
            f"{p}_outbound_buffer_bytes", "Published bytes not yet written", labels=labels
        )
        transport = gauge(
            f"{p}_transport_buffer_bytes", "Bytes in the transport's write buffer", labels=labels
        )
        for name, nc in list(self._clients):
            stats = nc.stats
            for key, family in plain.items():
                family.add_metric([name], getattr(stats, key))
            for kind, count in sorted(stats.errors.items()):
                errors.add_metric([name, kind], count)
            for kind, count in sorted(stats.request_failures.items()):
                failures.add_metric([name, kind], count)
            hist = stats.request_latency
            latency.add_metric(
                [name],
                [("+Inf" if math.isinf(b) else repr(b), n) for b, n in hist.cumulative()],
                hist.sum,
            )
            connected.add_metric([name], 1.0 if nc.is_connected else 0.0)
            pending = stats.subscriptions
            subs.add_metric([name], len(pending))
            for sub in pending:
                pending_msgs.add_metric([name, sub.subject, str(sub.sid)], sub.pending_msgs)
                pending_bytes.add_metric([name, sub.subject, str(sub.sid)], sub.pending_bytes)
            outbound.add_metric([name], stats.outbound_buffer_bytes)
            transport.add_metric([name], stats.transport_buffer_bytes)
        yield from plain.values()
        yield from (
            errors,
            failures,
            latency,
            connected,
            subs,
            pending_msgs,
            pending_bytes,
            outbound,
            transport,
        )

    def _collect_adapters(self, core: Any) -> Iterator[Any]:
        p = f"{self.prefix}_amqp"
        gauge, counter = core.GaugeMetricFamily, core.CounterMetricFamily
        labels = ["namespace"]
        gauges = {
            "channels_open": gauge(f"{p}_channels_open", "Open channels", labels=labels),
            "max_channels": gauge(f"{p}_channels_max", "Channel pool size", labels=labels),
            "channel_pool_use": gauge(
                f"{p}_channel_pool_use", "Open channels / pool size", labels=labels
            ),
            "consumers": gauge(f"{p}_consumers", "Active consumers", labels=labels),
            "unacked": gauge(f"{p}_unacked", "Deliveries not yet settled", labels=labels),
        }
        queue_labels = ["namespace", "queue"]
        per_queue = {
            "delivered": counter(f"{p}_queue_delivered", "Deliveries", labels=queue_labels),
            "acked": counter(f"{p}_queue_acked", "Acknowledged", labels=queue_labels),
            "nacked": counter(f"{p}_queue_nacked", "Nacked or rejected", labels=queue_labels),
            "dead_lettered": counter(
                f"{p}_queue_dead_lettered", "Sent to the dead-letter exchange", labels=queue_labels
            ),
            "dropped": counter(
                f"{p}_queue_dropped",
                "Rejected or expired without dead-lettering",
                labels=queue_labels,
            ),
        }
        for name, conn in list(self._adapters):
            stats = conn.stats
            for key, family in gauges.items():
                family.add_metric([name], float(getattr(stats, key)))
            for queue, counters in sorted(stats.queues.items()):
                values = counters.as_dict()
                for key, family in per_queue.items():
                    family.add_metric([name, queue], values[key])
        yield from gauges.values()
        yield from per_queue.values()


def register(
    client: Client | None = None,
    adapter: AdapterConnection | None = None,
    *,
    registry: Any = None,
    name: str | None = None,
    prefix: str = "natswire",
) -> NatswireCollector:
    """Register a :class:`NatswireCollector` for ``client`` and/or ``adapter`` on
    ``registry`` (default ``prometheus_client.REGISTRY``) and return it (add more sources
    to it with ``add_client``/``add_adapter``; ``registry.unregister(collector)`` to
    stop). An adapter's own NATS client is added too when no client is given."""
    prom = _prometheus()
    collector = NatswireCollector(prefix=prefix)
    if client is None and adapter is not None and isinstance(adapter.nc, Client):
        client = adapter.nc
    if client is not None:
        collector.add_client(client, name)
    if adapter is not None:
        collector.add_adapter(adapter)
    (prom.REGISTRY if registry is None else registry).register(collector)
    return collector
