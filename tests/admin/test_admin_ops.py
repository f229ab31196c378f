"""The RabbitMqAdmin equivalents against a real server: queues of the AMQP adapter
(regex, pages, delete), connections from /connz, kicking through the system account."""

from __future__ import annotations

import asyncio

import pytest
from support import AmqpConnect, Connect

import natswire
from natswire import amqp
from natswire.admin import (
    ConnectionNotFoundError,
    Monitor,
    NatsAdmin,
    RabbitMqAdmin,
    SystemAccountRequiredError,
)
from natswire.amqp.names import stream_name
from natswire.errors import QueueNotFoundError

pytestmark = pytest.mark.timeout(40)

DOMAINS = ["a.example.com", "b.example.com", "c.example.com"]


async def declare_wire_queues(conn: amqp.Connection) -> amqp.Channel:
    ch = await conn.channel()
    for domain in DOMAINS:
        await ch.queue_declare(
            f"backend-notifications.{domain}",
            arguments={"x-queue-type": "quorum", "x-single-active-consumer": True},
        )
    await ch.exchange_declare("dead-user-notifications", "direct")
    await ch.queue_declare(
        "user-notifications.u1.c1",
        arguments={"x-dead-letter-exchange": "dead-user-notifications"},
    )
    await ch.queue_declare("cells_events")
    return ch


async def remote_domains(admin: NatsAdmin, namespace: str) -> set[str]:
    """Wire's getRemoteDomains, page by page (BackendNotificationPusher)."""
    prefix = "backend-notifications."
    found: set[str] = set()
    page = 1
    while True:
        result = await admin.list_queues(namespace, rf"^{prefix}.*", page=page, page_size=2)
        found |= {q.name[len(prefix) :] for q in result.items}
        if page >= result.page_count:
            return found
        page += 1


async def test_list_queues_regex_and_pages(
    amqp_connect: AmqpConnect, admin: NatsAdmin, namespace: str, app_nc: natswire.Client
) -> None:
    conn = await amqp_connect()
    ch = await declare_wire_queues(conn)
    await ch.basic_publish("", "backend-notifications.a.example.com", b"one")
    await ch.basic_publish("", "backend-notifications.a.example.com", b"two")
    # A consumer that is not an adapter queue is not listed.
    await app_nc.jsm().add_consumer(stream_name(namespace), durable_name="NOT-A-QUEUE")

    everything = await admin.list_queues()
    assert [q.name for q in everything.items] == sorted(
        [
            *(f"backend-notifications.{d}" for d in DOMAINS),
            "cells_events",
            "user-notifications.u1.c1",
        ]
    )
    assert everything.page == 1 and everything.page_count == 1
    assert everything.total_count == everything.filtered_count == 5
    assert {q.vhost for q in everything.items} == {namespace}

    progress: list[tuple[str, int, int | None]] = []
    first = await admin.list_queues(
        namespace,
        r"^backend-notifications\..*",
        page=1,
        page_size=2,
        progress=lambda s, d, t: progress.append((s, d, t)),
    )
    assert [q.name for q in first.items] == [
        "backend-notifications.a.example.com",
        "backend-notifications.b.example.com",
    ]
    assert (first.page_count, first.filtered_count, first.total_count) == (2, 3, 5)
    assert progress[0] == ("names", 6, 6)  # five queues and NOT-A-QUEUE
    assert progress[-1] == ("details", 2, 2)
    second = await admin.list_queues(namespace, r"^backend-notifications\..*", page=2, page_size=2)
    assert [q.name for q in second.items] == ["backend-notifications.c.example.com"]
    beyond = await admin.list_queues(namespace, r"^backend-notifications\..*", page=3, page_size=2)
    assert beyond.items == [] and beyond.page_count == 2
    assert await remote_domains(admin, namespace) == set(DOMAINS)

    a = first.items[0]
    assert a.messages == 2 and a.messages_unacknowledged == 0
    assert a.consumer == amqp.consumer_name(a.name) and a.stream == stream_name(namespace)
    assert a.arguments["x-single-active-consumer"] is True
    client = next(q for q in everything.items if q.name == "user-notifications.u1.c1")
    assert client.arguments == {"x-dead-letter-exchange": "dead-user-notifications"}
    assert client.messages == 0

    substring = await admin.list_queues(pattern="user-", use_regex=False)
    assert [q.name for q in substring.items] == ["user-notifications.u1.c1"]
    assert await admin.queue_names(pattern="^cells") == ["cells_events"]
    assert len(await admin.all_queues(pattern="example")) == 3

    empty = await admin.list_queues("no-such-namespace")
    assert empty.items == [] and empty.page_count == 0
    with pytest.raises(ValueError, match="pattern"):
        await admin.list_queues(pattern="(")
    assert RabbitMqAdmin is NatsAdmin


async def test_delete_queue_cancels_its_consumers(
    amqp_connect: AmqpConnect, admin: NatsAdmin, namespace: str
) -> None:
    # A pull request that reaches the server while it deletes the consumer is dropped
    # without a 409; the consumer learns of the deletion from the server's advisory, long
    # before its pull request would expire (pull_expires, 10 minutes).
    conn = await amqp_connect()
    ch = await declare_wire_queues(conn)
    cancelled = asyncio.Event()
    await ch.basic_consume("cells_events", lambda d: None, on_cancel=lambda tag: cancelled.set())
    assert await admin.delete_queue("cells_events") is True
    await asyncio.wait_for(cancelled.wait(), 10)
    assert "cells_events" not in await admin.queue_names()
    assert len(await admin.queue_names()) == 4
    with pytest.raises(QueueNotFoundError, match="cells_events"):
        await admin.delete_queue("cells_events")
    assert await admin.delete_queue("cells_events", missing_ok=True) is False
    with pytest.raises(QueueNotFoundError):
        await admin.delete_queue("x", namespace="no-such-namespace")


async def test_list_connections_by_namespace_and_name(
    amqp_connect: AmqpConnect,
    admin: NatsAdmin,
    namespace: str,
    app_nc: natswire.Client,
    sys_nc: natswire.Client,
) -> None:
    conn = await amqp_connect()
    ours = await admin.list_connections(namespace)
    assert [c.cid for c in ours] == [conn.nc.client_id]
    assert ours[0].name == f"{namespace}/natswire-amqp"
    assert ours[0].user_provided_name == ours[0].name
    assert ours[0].namespace == namespace and ours[0].account == "APP"
    assert ours[0].lang == "python"
    assert await admin.list_connections(namespace, "natswire-amqp") == ours

    named = await admin.list_connections(name="admin-tests-app")
    assert [c.cid for c in named] == [app_nc.client_id]
    assert named[0].user == "app" and named[0].namespace == ""
    assert await admin.list_connections(name="nobody-has-this-name") == []
    system = await admin.list_connections(account="SYS")
    assert sys_nc.client_id in {c.cid for c in system}
    assert app_nc.client_id not in {c.cid for c in system}
    everyone = {c.cid for c in await admin.list_connections()}
    assert {conn.nc.client_id, app_nc.client_id, sys_nc.client_id} <= everyone

    with pytest.raises(natswire.errors.AdminError, match="monitor"):
        await NatsAdmin(app_nc).list_connections()


async def test_kick_connection_by_name_and_id(
    connect: Connect, sys_nc: natswire.Client, monitor: Monitor
) -> None:
    admin = NatsAdmin(sys_nc, monitor)
    disconnected = asyncio.Event()
    reconnected = asyncio.Event()

    async def on_disconnect() -> None:
        disconnected.set()

    async def on_reconnect() -> None:
        reconnected.set()

    victim = await connect(
        "app", name="adm-victim", disconnected_cb=on_disconnect, reconnected_cb=on_reconnect
    )
    old_cid = victim.client_id
    assert await admin.kick_connection("adm-victim") == [old_cid]
    await asyncio.wait_for(disconnected.wait(), 5)
    await asyncio.wait_for(reconnected.wait(), 5)
    assert victim.stats.reconnects == 1 and victim.client_id != old_cid
    assert old_cid not in {c.cid for c in (await monitor.connz(limit=1024)).connections}

    stays_away = await connect("app", name="adm-victim-2", allow_reconnect=False)
    cid = stays_away.client_id
    assert cid is not None
    assert await admin.kick_connection(cid) == [cid]
    for _ in range(50):
        if stays_away.is_closed:
            break
        await asyncio.sleep(0.1)
    assert stays_away.is_closed

    with pytest.raises(ConnectionNotFoundError, match="no connection named"):
        await admin.kick_connection("adm-nobody")
    with pytest.raises(ConnectionNotFoundError, match="no such client"):
        await admin.kick_connection(999_999)


async def test_kick_needs_the_system_account(connect: Connect, app_nc: natswire.Client) -> None:
    victim = await connect("app", name="adm-untouched")
    with pytest.raises(SystemAccountRequiredError, match=r"system account.*'APP'"):
        await NatsAdmin(app_nc).kick_connection(str(victim.client_id))
    with pytest.raises(SystemAccountRequiredError):
        await NatsAdmin(app_nc).kick_connection("adm-untouched")
    await victim.flush()
    assert victim.is_connected and victim.stats.reconnects == 0
