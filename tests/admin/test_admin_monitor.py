"""The monitoring client against a real nats-server: every endpoint, connz paging and
filters, unknown fields kept, and clear errors."""

from __future__ import annotations

import asyncio

import pytest
from support import Connect

import natswire
from natswire.admin import Connz, MonitoringError, Varz
from natswire.admin.monitor import Monitor
from natswire.errors import MonitoringError as ReexportedMonitoringError
from natswire.httpjson import get_json
from natswire.server import NatsServer, free_port

pytestmark = pytest.mark.timeout(30)


def raw(server: NatsServer, path: str) -> dict[str, object]:
    data = get_json(f"{server.monitor_url}/{path}")
    assert isinstance(data, dict)
    return data


async def test_varz_is_typed_keeps_unknown_fields_and_moves(
    server: NatsServer, monitor: Monitor, app_nc: natswire.Client
) -> None:
    before = await monitor.varz()
    assert isinstance(before, Varz)
    assert before.server_id == app_nc.server_info["server_id"]
    assert before.port == server.port
    assert before.version and before.connections >= 1
    assert before.system_account == "SYS"
    # Fields natswire does not model are kept, and the JSON round-trips.
    expected = raw(server, "varz")
    assert "git_commit" in before.extra
    assert before["git_commit"] == expected["git_commit"]
    assert set(before.as_dict()) == set(expected)
    sub = await app_nc.subscribe("adm.varz")
    for _ in range(5):
        await app_nc.publish("adm.varz", b"12345")
    await app_nc.flush()
    for _ in range(5):
        await sub.next_msg()
    after = await monitor.varz()
    assert after.in_msgs >= before.in_msgs + 5
    assert after.out_msgs >= before.out_msgs + 5
    assert after.in_bytes >= before.in_bytes + 25


def test_results_keep_fields_from_newer_servers() -> None:
    connz = Connz.from_dict(
        {
            "server_id": "S",
            "total": 1,
            "brand_new": {"x": 1},
            "connections": [{"cid": 7, "name": "n", "future_field": True}],
        }
    )
    assert connz.connections[0].cid == 7
    assert connz.connections[0].extra == {"future_field": True}
    assert connz["brand_new"] == {"x": 1}
    assert connz.as_dict()["connections"][0]["future_field"] is True
    with pytest.raises(KeyError):
        connz["missing"]


async def test_connz_paging_sorting_and_filters(
    connect: Connect, monitor: Monitor, sys_nc: natswire.Client
) -> None:
    clients = [await connect("app", name=f"adm-page-{i}") for i in range(5)]
    cids = {nc.client_id for nc in clients}
    await clients[0].subscribe("adm.connz.subject")
    await clients[0].flush()

    everything = await monitor.connz(limit=1024)
    assert everything.total >= 6
    first = await monitor.connz(limit=2, sort="cid")
    assert len(first.connections) == 2 and first.limit == 2 and first.offset == 0
    assert first.total == everything.total
    second = await monitor.connz(limit=2, offset=2, sort="cid")
    assert second.offset == 2
    seen = [c.cid for c in first.connections + second.connections]
    assert seen == sorted(seen) and len(set(seen)) == 4

    pages = [page async for page in monitor.connz_pages(page_size=2)]
    assert len(pages) == -(-everything.total // 2)
    assert all(len(p.connections) <= 2 for p in pages)
    paged = [c.cid for p in pages for c in p.connections]
    assert len(paged) == len(set(paged)) == everything.total
    assert cids <= set(paged)

    one = await monitor.connz(cid=clients[1].client_id)
    assert [c.name for c in one.connections] == ["adm-page-1"]

    app_only = await monitor.connz(account="APP", auth=True)
    assert app_only.connections and {c.account for c in app_only.connections} == {"APP"}
    assert sys_nc.client_id not in {c.cid for c in app_only.connections}
    assert "app" in {c.authorized_user for c in app_only.connections}

    with_subs = await monitor.connz(cid=clients[0].client_id, subs=True)
    assert "adm.connz.subject" in with_subs.connections[0].subscriptions_list
    detail = await monitor.connz(cid=clients[0].client_id, subs="detail")
    subjects = {d["subject"] for d in detail.connections[0].subscriptions_list_detail}
    assert "adm.connz.subject" in subjects

    gone = clients[4].client_id
    await clients[4].close()
    await asyncio.sleep(0.1)
    closed = await monitor.connz(state="closed", limit=1024)
    assert gone in {c.cid for c in closed.connections}
    assert gone not in {c.cid for c in (await monitor.connz(limit=1024)).connections}

    with pytest.raises(ValueError, match="sort"):
        await monitor.connz(sort="bogus")


async def test_routez_subsz_accountz_healthz(monitor: Monitor, app_nc: natswire.Client) -> None:
    routez = await monitor.routez()
    assert routez.server_id == app_nc.server_info["server_id"]
    assert routez.num_routes == 0 and routez.routes == []

    await app_nc.subscribe("adm.subsz.one")
    await app_nc.flush()
    subsz = await monitor.subsz()
    assert subsz.num_subscriptions >= 1
    listed = await monitor.subsz(subs=True, account="APP", test="adm.subsz.one", limit=1024)
    assert "adm.subsz.one" in {s["subject"] for s in listed.subscriptions_list}

    accountz = await monitor.accountz()
    assert accountz.system_account == "SYS"
    assert {"APP", "SYS"} <= set(accountz.accounts)
    detail = await monitor.accountz("APP")
    assert detail.account_detail is not None
    assert detail.account_detail["account_name"] == "APP"
    assert detail.account_detail["jetstream_enabled"] is True

    health = await monitor.healthz()
    assert health.ok and health.status == "ok" and health.status_code == 200
    assert (await monitor.healthz(js_enabled_only=True)).ok


async def test_jsz_with_account_stream_and_consumer_detail(
    monitor: Monitor, app_nc: natswire.Client, namespace: str
) -> None:
    js = app_nc.jetstream()
    stream = f"ADM-JSZ-{namespace}"
    await js.add_stream(name=stream, subjects=[f"{namespace}.jsz.>"])
    try:
        await js.publish(f"{namespace}.jsz.a", b"hello")
        await app_nc.jsm().add_consumer(stream, durable_name="C1")
        jsz = await monitor.jsz(accounts=True, streams=True, consumers=True)
        assert not jsz.disabled and jsz.streams >= 1 and jsz.messages >= 1
        accounts = {a.name: a for a in jsz.account_details}
        assert "APP" in accounts
        streams = {s["name"]: s for s in accounts["APP"].stream_detail}
        assert streams[stream]["state"]["messages"] == 1
        consumers = {c["name"] for c in streams[stream].get("consumer_detail") or []}
        assert "C1" in consumers
        one = await monitor.jsz(account="APP", streams=True)
        assert [a.name for a in one.account_details] == ["APP"]
    finally:
        await app_nc.jsm().delete_stream(stream)


async def test_clear_errors(server: NatsServer, monitor: Monitor) -> None:
    port = free_port()
    closed = Monitor(f"127.0.0.1:{port}", timeout=2.0)
    with pytest.raises(MonitoringError, match="cannot reach") as info:
        await closed.varz()
    assert info.value.status is None
    assert isinstance(info.value, ReexportedMonitoringError)
    assert isinstance(info.value, natswire.errors.NatsWireError)

    with pytest.raises(MonitoringError, match="HTTP 404") as info:
        await monitor.request("no-such-endpoint")
    assert info.value.status == 404

    with pytest.raises(MonitoringError, match=r"HTTP 400.*sort") as info:
        await monitor.request("connz", {"sort": "bogus"})
    assert info.value.status == 400

    with pytest.raises(MonitoringError, match="not JSON"):
        await monitor.request("")  # the HTML index page

    client_port = Monitor(f"http://127.0.0.1:{server.port}", timeout=2.0)
    with pytest.raises(MonitoringError, match="monitoring port"):
        await client_port.varz()

    with pytest.raises(ValueError):
        Monitor("ftp://example.com")
