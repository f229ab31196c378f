"""Client metrics (``nc.stats``), the adapter's metrics (``conn.stats``) and their
Prometheus collector, checked as messages flow through a real server."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from support import AmqpConnect, Connect, eventually

import natswire
from natswire import amqp
from natswire.admin.prometheus import NatswireCollector, register
from natswire.errors import NoRespondersError, TimeoutError

pytestmark = pytest.mark.timeout(40)


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition text, by name and labels."""
    text = generate_latest(registry).decode()
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_client_metrics_move(connect: Connect) -> None:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = await connect("app", name="adm-metrics", error_cb=on_error)
    stats = nc.stats
    assert stats.as_dict() == {
        "in_msgs": 0,
        "out_msgs": 0,
        "in_bytes": 0,
        "out_bytes": 0,
        "reconnects": 0,
        "errors_received": 0,
    }

    # Pending per subscription and slow-consumer drops.
    slow = await nc.subscribe("adm.m.slow", pending_msgs_limit=2)
    for _ in range(10):
        await nc.publish("adm.m.slow", b"abc")
    assert stats.outbound_buffer_bytes > 0  # not yet written: read at call time
    await nc.flush()
    assert stats.outbound_buffer_bytes == 0
    await eventually(lambda: stats.in_msgs == 10, timeout=10)
    assert stats.slow_consumer_drops == 8
    (view,) = [s for s in stats.subscriptions if s.sid == slow.sid]
    assert (view.pending_msgs, view.pending_bytes, view.dropped) == (2, 6, 8)
    assert stats.pending_msgs >= 2
    await slow.next_msg()
    assert [s.pending_msgs for s in stats.subscriptions if s.sid == slow.sid] == [1]

    # Errors by class: the slow consumer report and a raising callback.
    def broken(msg: natswire.Message) -> None:
        raise ValueError("callback failed")

    await nc.subscribe("adm.m.broken", cb=broken)
    await nc.publish("adm.m.broken", b"")
    await nc.flush()
    await eventually(lambda: "ValueError" in stats.errors, timeout=10)
    assert stats.errors == {"SlowConsumerError": 1, "ValueError": 1}

    # Request latency and failed requests.
    async def echo(msg: natswire.Message) -> None:
        await msg.respond(msg.data)

    await nc.subscribe("adm.m.echo", cb=echo)
    await nc.subscribe("adm.m.silent")
    for _ in range(5):
        await nc.request("adm.m.echo", b"ping", timeout=2)
    await nc.request("adm.m.echo", b"ping", timeout=2, old_style=True)
    latency = stats.request_latency
    assert latency.count == 6 and latency.sum > 0
    assert latency.cumulative()[-1] == (float("inf"), 6)
    median = latency.quantile(0.5)
    assert median is not None and 0 < median <= 2.5
    with pytest.raises(NoRespondersError):
        await nc.request("adm.m.nobody", b"", timeout=2)
    with pytest.raises(TimeoutError):
        await nc.request("adm.m.silent", b"", timeout=0.1)
    assert stats.request_failures == {"NoRespondersError": 1, "TimeoutError": 1}
    assert stats.request_latency.count == 6

    snapshot = json.loads(json.dumps(stats.snapshot()))
    assert snapshot["status"] == "connected"
    assert snapshot["slow_consumer_drops"] == 8
    assert snapshot["request_latency"]["count"] == 6
    assert snapshot["errors"]["ValueError"] == 1
    assert stats["in_msgs"] == stats.in_msgs and stats.out_msgs >= 17


async def test_adapter_channel_pool_and_queue_counters(amqp_connect: AmqpConnect) -> None:
    conn = await amqp_connect(max_channels=4)
    stats = conn.stats
    ch = await conn.channel()
    extra = await conn.channel()
    assert (stats.channels_open, stats.max_channels, stats.channel_pool_use) == (2, 4, 0.5)
    await extra.close()
    assert stats.channels_open == 1

    await ch.exchange_declare("dead", "direct")
    await ch.queue_declare("dead-letters")
    await ch.queue_bind("dead-letters", "dead", "jobs")
    await ch.queue_declare("jobs", arguments={"x-dead-letter-exchange": "dead"})
    await ch.queue_declare("plain")
    deliveries: list[amqp.Delivery] = []
    await ch.basic_consume("jobs", deliveries.append)
    await ch.basic_consume("plain", deliveries.append)
    assert stats.consumers == 2
    for body in (b"1", b"2", b"3"):
        await ch.basic_publish("", "jobs", body)
    await ch.basic_publish("", "plain", b"p")
    await eventually(lambda: len(deliveries) == 4, timeout=10)
    assert stats.unacked == 4
    assert stats.queue("jobs").delivered == 3 and stats.queue("plain").delivered == 1

    by_body = {d.body: d for d in deliveries}
    await by_body[b"1"].ack()
    await by_body[b"2"].nack(requeue=True)
    await by_body[b"3"].reject(requeue=False)
    await by_body[b"p"].reject(requeue=False)
    await eventually(lambda: stats.queue("jobs").delivered == 4, timeout=10)  # "2" came back
    jobs = stats.queue("jobs")
    assert (jobs.acked, jobs.nacked, jobs.dead_lettered, jobs.dropped) == (1, 2, 1, 0)
    plain = stats.queue("plain")
    assert (plain.nacked, plain.dead_lettered, plain.dropped) == (1, 0, 1)
    assert stats.unacked == 1
    snapshot = json.loads(json.dumps(stats.snapshot()))
    assert snapshot["queues"]["jobs"]["dead_lettered"] == 1
    assert snapshot["channels_open"] == 1


async def test_prometheus_registry_values_move(amqp_connect: AmqpConnect) -> None:
    conn = await amqp_connect()
    nc = conn.nc
    registry = CollectorRegistry()
    collector = register(adapter=conn, registry=registry, name="svc")
    ns = conn.namespace
    client = (("client", "svc"),)

    before = scrape(registry)
    assert before[("natswire_client_connected", client)] == 1.0
    assert before[("natswire_amqp_channels_open", (("namespace", ns),))] == 0.0
    assert before[("natswire_amqp_channels_max", (("namespace", ns),))] == 300.0

    ch = await conn.channel()
    await ch.queue_declare("q")
    got: list[amqp.Delivery] = []
    await ch.basic_consume("q", got.append, auto_ack=True)
    for _ in range(3):
        await ch.basic_publish("", "q", b"hello")
    await eventually(lambda: len(got) == 3, timeout=10)
    await nc.subscribe("adm.prom.echo", cb=lambda m: asyncio.ensure_future(m.respond(b"")))
    await nc.request("adm.prom.echo", b"", timeout=2)

    after = scrape(registry)
    for name in ("natswire_client_out_msgs_total", "natswire_client_in_msgs_total"):
        assert after[(name, client)] > before[(name, client)]
    assert after[("natswire_client_out_bytes_total", client)] >= (
        before[("natswire_client_out_bytes_total", client)] + 15
    )
    queue = (("namespace", ns), ("queue", "q"))
    assert after[("natswire_amqp_queue_delivered_total", queue)] == 3
    assert after[("natswire_amqp_queue_acked_total", queue)] == 3
    assert after[("natswire_amqp_channels_open", (("namespace", ns),))] == 1.0
    assert after[("natswire_amqp_channel_pool_use", (("namespace", ns),))] == pytest.approx(1 / 300)
    latency = "natswire_client_request_latency_seconds"
    # JetStream publishes and API calls are requests too.
    assert after[(f"{latency}_count", client)] >= before[(f"{latency}_count", client)] + 4
    assert after[(f"{latency}_bucket", (*client, ("le", "+Inf")))] >= 1
    assert after[(f"{latency}_sum", client)] > 0
    pending = [k for k in after if k[0] == "natswire_client_pending_messages"]
    assert pending and all(dict(k[1])["client"] == "svc" for k in pending)

    plain = await natswire.connect(nc.connected_url, user="app", password="app", name="other")
    try:
        collector.add_client(plain)
        await plain.publish("adm.prom.x", b"")
        await plain.flush()
        scraped = scrape(registry)
        assert scraped[("natswire_client_out_msgs_total", (("client", "other"),))] == 1
        collector.remove(plain)
        assert ("natswire_client_out_msgs_total", (("client", "other"),)) not in scrape(registry)
    finally:
        await plain.close()
    registry.unregister(collector)
    assert "natswire_client" not in generate_latest(registry).decode()


def test_prometheus_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ImportError, match=r"natswire\[prometheus\]"):
        NatswireCollector()
