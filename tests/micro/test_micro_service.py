"""natswire.micro services against a real nats-server, called, discovered and measured by
nats-py (its client calls and its ``nats.micro`` types) and by raw ``$SRV.*`` requests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats.errors
import nats.micro
import nats.micro.service as py_service
import pytest
from support import Connect, peer_sync

import natswire
from natswire import micro
from natswire.errors import ConfigValidationError, NatsWireError, ServiceStoppedError

pytestmark = pytest.mark.timeout(60)


def echo(req: micro.Request) -> None:
    req.respond(req.data)


async def reply_json(peer: Any, subject: str) -> dict[str, Any]:
    msg = await peer.request(subject, b"", timeout=2)
    doc: dict[str, Any] = json.loads(msg.data)
    return doc


async def test_discovered_called_and_measured_by_nats_py(nc: natswire.Client, peer: Any) -> None:
    service = await micro.add_service(
        nc, name="calc", version="1.2.3", description="adds", metadata={"team": "core"}
    )

    async def add(req: micro.Request) -> None:
        numbers = json.loads(req.data)
        await req.respond(json.dumps(sum(numbers)).encode())

    await service.add_endpoint(name="add", handler=add, metadata={"kind": "math"})
    assert (await peer.request("add", b"[1, 2, 3]", timeout=2)).data == b"6"
    for _ in range(4):
        await peer.request("add", b"[1]", timeout=2)

    ping = py_service.ServicePing.from_dict(await reply_json(peer, "$SRV.PING.calc"))
    assert (ping.name, ping.id, ping.version, ping.metadata) == (
        "calc",
        service.id,
        "1.2.3",
        {"team": "core"},
    )
    raw_info = await reply_json(peer, f"$SRV.INFO.calc.{service.id}")
    assert raw_info["type"] == "io.nats.micro.v1.info_response"
    info = py_service.ServiceInfo.from_dict(raw_info)
    assert info.description == "adds"
    assert [(e.name, e.subject, e.queue_group, e.metadata) for e in info.endpoints] == [
        ("add", "add", "q", {"kind": "math"})
    ]
    raw_stats = await reply_json(peer, "$SRV.STATS.calc")
    assert raw_stats["type"] == "io.nats.micro.v1.stats_response"
    assert raw_stats["started"].endswith("Z")
    stats = py_service.ServiceStats.from_dict(raw_stats)
    (endpoint,) = stats.endpoints
    assert (endpoint.num_requests, endpoint.num_errors) == (5, 0)
    assert endpoint.processing_time > 0
    assert endpoint.average_processing_time == endpoint.processing_time // 5
    # The same figures from the object itself.
    assert service.stats().endpoints[0].num_requests == 5
    assert service.info().to_dict() == raw_info


async def test_every_discovery_subject_answers(nc: natswire.Client, peer: Any) -> None:
    service = await micro.add_service(nc, name="disc", version="0.0.1")
    await service.add_endpoint(name="e", handler=echo)
    for verb, kind in (("PING", "ping"), ("INFO", "info"), ("STATS", "stats")):
        for subject in (f"$SRV.{verb}", f"$SRV.{verb}.disc", f"$SRV.{verb}.disc.{service.id}"):
            replies = await nc.request_many(subject, timeout=1.0, stall=0.3)
            docs = [json.loads(m.data) for m in replies]
            mine = [d for d in docs if d["id"] == service.id]
            assert len(mine) == 1, subject
            assert mine[0]["type"] == f"io.nats.micro.v1.{kind}_response"
            assert mine[0]["name"] == "disc"
    assert await nc.request_many(f"$SRV.PING.disc.{service.id}x", timeout=0.3) == []


async def test_nats_py_service_discovered_by_request_many(nc: natswire.Client, peer: Any) -> None:
    theirs = await nats.micro.add_service(peer, name="pysvc", version="2.0.0")

    async def handler(req: Any) -> None:
        await req.respond(b"py")

    await theirs.add_endpoint(name="hello", handler=handler)
    await peer_sync(peer)
    replies = await nc.request_many("$SRV.INFO.pysvc", timeout=1.0, stall=0.3)
    (info,) = [micro.ServiceInfo.from_dict(json.loads(m.data)) for m in replies]
    assert (info.name, info.id, info.version) == ("pysvc", theirs.id, "2.0.0")
    assert [e.subject for e in info.endpoints] == ["hello"]
    replies = await nc.request_many("$SRV.PING", timeout=1.0, stall=0.3)
    assert "pysvc" in {json.loads(m.data)["name"] for m in replies}
    assert (await nc.request("hello", b"", timeout=2)).data == b"py"
    await theirs.stop()


async def test_two_instances_share_the_default_queue_group(connect: Connect, peer: Any) -> None:
    one = await micro.add_service(await connect(), name="lb", version="1.0.0")
    two = await micro.add_service(await connect(), name="lb", version="1.0.0")
    for service in (one, two):
        await service.add_endpoint(name="lb", handler=echo)
    await asyncio.gather(*(peer.request("lb", b"%d" % i, timeout=2) for i in range(200)))
    counts = [s.stats().endpoints[0].num_requests for s in (one, two)]
    assert sum(counts) == 200
    assert min(counts) > 0, counts
    assert one.info().endpoints[0].queue_group == "q"
    replies = await (await connect()).request_many("$SRV.PING.lb", timeout=1.0, stall=0.3)
    assert {json.loads(m.data)["id"] for m in replies} == {one.id, two.id}


async def test_reset_zeroes_the_statistics(nc: natswire.Client, peer: Any) -> None:
    service = await micro.add_service(nc, name="rst", version="1.0.0")

    def fail(req: micro.Request) -> None:
        raise micro.ServiceError("400", "bad")

    await service.add_endpoint(name="rst", handler=fail)
    await peer.request("rst", b"", timeout=2)
    before = service.stats()
    assert before.endpoints[0].num_requests == 1 and before.endpoints[0].num_errors == 1
    await service.reset()  # nats-py awaits it; natswire's call also works without
    service.reset()
    stats = (await reply_json(peer, "$SRV.STATS.rst"))["endpoints"][0]
    assert (stats["num_requests"], stats["num_errors"], stats["last_error"]) == (0, 0, "")
    assert (stats["processing_time"], stats["average_processing_time"]) == (0, 0)
    assert service.stats().started >= before.started


async def test_stop_removes_endpoints_and_the_instance(nc: natswire.Client, peer: Any) -> None:
    stays = await micro.add_service(nc, name="stays", version="1.0.0")
    service = await micro.add_service(nc, name="goes", version="1.0.0")
    await service.add_endpoint(name="goes", handler=echo)
    assert (await peer.request("goes", b"x", timeout=2)).data == b"x"
    assert not service.stopped.is_set()
    await service.stop()
    assert service.stopped.is_set()
    with pytest.raises(nats.errors.NoRespondersError):
        await peer.request("goes", b"x", timeout=2)
    names = {json.loads(m.data)["name"] for m in await nc.request_many("$SRV.PING", stall=0.3)}
    assert "goes" not in names and "stays" in names
    assert service.info().endpoints == []
    await service.stop()  # idempotent
    with pytest.raises(ServiceStoppedError):
        await service.add_endpoint(name="late", handler=echo)
    await stays.stop()


async def test_async_with_stops_the_service(nc: natswire.Client, peer: Any) -> None:
    async with await micro.add_service(nc, name="ctx", version="1.0.0") as service:
        await service.add_endpoint(name="ctx", handler=echo)
        assert (await peer.request("ctx", b"in", timeout=2)).data == b"in"
    assert service.stopped.is_set()
    with pytest.raises(nats.errors.NoRespondersError):
        await peer.request("ctx", b"out", timeout=2)


async def test_error_replies_and_raising_handlers(nc: natswire.Client, peer: Any) -> None:
    service = await micro.add_service(nc, name="errs", version="1.0.0")

    async def explicit(req: micro.Request) -> None:
        await req.respond_error("418", "teapot", b"body", headers={"X-Extra": "1"})

    def raises_service_error(req: micro.Request) -> None:
        raise micro.ServiceError("404", "no such thing")

    async def raises(req: micro.Request) -> None:
        raise RuntimeError("broken\nin two lines")

    await service.add_endpoint(name="explicit", handler=explicit)
    await service.add_endpoint(name="svcerr", handler=raises_service_error)
    await service.add_endpoint(name="raises", handler=raises)

    msg = await peer.request("explicit", b"", timeout=2)
    assert msg.data == b"body"
    assert msg.headers["Nats-Service-Error"] == "teapot"
    assert msg.headers["Nats-Service-Error-Code"] == "418"
    assert msg.headers["X-Extra"] == "1"
    msg = await peer.request("svcerr", b"", timeout=2)
    assert (msg.headers["Nats-Service-Error-Code"], msg.headers["Nats-Service-Error"]) == (
        "404",
        "no such thing",
    )
    msg = await peer.request("raises", b"", timeout=2)
    assert msg.headers["Nats-Service-Error-Code"] == "500"
    assert "RuntimeError" in msg.headers["Nats-Service-Error"]
    assert "\n" not in msg.headers["Nats-Service-Error"]
    stats = {e.name: e for e in service.stats().endpoints}
    assert [(stats[n].num_requests, stats[n].num_errors) for n in stats] == [(1, 1)] * 3
    assert stats["explicit"].last_error == "418:teapot"
    assert stats["svcerr"].last_error == "404:no such thing"
    assert stats["raises"].last_error is not None and "RuntimeError" in stats["raises"].last_error


async def test_plain_handlers_run_on_the_receive_path_coroutines_in_one_task(
    nc: natswire.Client, peer: Any
) -> None:
    service = await micro.add_service(nc, name="paths", version="1.0.0")
    plain_tasks: list[object] = []
    coroutine_tasks: list[object] = []

    def plain(req: micro.Request) -> None:
        plain_tasks.append(asyncio.current_task())
        req.respond(b"plain")

    async def coroutine(req: micro.Request) -> None:
        coroutine_tasks.append(asyncio.current_task())
        await req.respond(b"coroutine")

    await service.add_endpoint(name="plain", handler=plain)
    await service.add_endpoint(name="coroutine", handler=coroutine)
    for _ in range(5):
        assert (await peer.request("plain", b"", timeout=2)).data == b"plain"
        assert (await peer.request("coroutine", b"", timeout=2)).data == b"coroutine"
    assert plain_tasks == [None] * 5  # called inside data_received, no task at all
    assert len(coroutine_tasks) == 5 and len(set(map(id, coroutine_tasks))) == 1
    assert coroutine_tasks[0] is not None


async def test_groups_nest_with_their_queue_groups(nc: natswire.Client, peer: Any) -> None:
    service = await micro.add_service(nc, name="grp", version="1.0.0", queue_group="svcq")
    api = service.add_group(name="api")
    v1 = api.add_group(name="v1", queue_group="v1q")
    await api.add_endpoint(name="top", handler=echo)
    await v1.add_endpoint(name="deep", handler=echo, subject="deeper")
    await v1.add_endpoint(micro.EndpointConfig(name="own", handler=echo, queue_group="ownq"))
    await service.add_endpoint(name="root", handler=echo)
    endpoints = [(e.name, e.subject, e.queue_group) for e in service.info().endpoints]
    assert endpoints == [
        ("top", "api.top", "svcq"),
        ("deep", "api.v1.deeper", "v1q"),
        ("own", "api.v1.own", "ownq"),
        ("root", "root", "svcq"),
    ]
    assert (await peer.request("api.v1.deeper", b"d", timeout=2)).data == b"d"


async def test_request_fields_and_reply_headers(nc: natswire.Client, peer: Any) -> None:
    service = await micro.add_service(nc, name="fields", version="1.0.0")
    seen: list[tuple[str, str | None, bytes]] = []

    async def look(req: micro.Request) -> None:
        headers = req.headers
        seen.append((req.subject, headers["X-In"] if headers else None, req.data))
        await req.respond(b"ok", headers={"X-Out": "yes"})

    await service.add_endpoint(name="look", handler=look, subject="fields.>")
    msg = await peer.request("fields.a.b", b"payload", timeout=2, headers={"X-In": "in"})
    assert msg.data == b"ok" and msg.headers["X-Out"] == "yes"
    assert seen == [("fields.a.b", "in", b"payload")]


async def test_stats_handler_fills_data(nc: natswire.Client, peer: Any) -> None:
    service = await micro.add_service(
        nc,
        micro.ServiceConfig(name="custom", version="1.0.0"),
        stats_handler=lambda endpoint: {"seen": endpoint.num_requests},
    )
    await service.add_endpoint(name="custom", handler=echo)
    await peer.request("custom", b"", timeout=2)
    stats = await reply_json(peer, "$SRV.STATS.custom")
    assert stats["endpoints"][0]["data"] == {"seen": 1}


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"name": "", "version": "1.0.0"}, "name"),
        ({"name": "has space", "version": "1.0.0"}, "name"),
        ({"name": "dots.not.allowed", "version": "1.0.0"}, "name"),
        ({"name": "ok", "version": ""}, "version"),
        ({"name": "ok", "version": "1.0"}, "version"),
        ({"name": "ok", "version": "v1.0.0"}, "version"),
        ({"name": "ok", "version": "1.0.0", "queue_group": "a b"}, "queue group"),
    ],
)
async def test_add_service_validates(
    nc: natswire.Client, config: dict[str, str], field: str
) -> None:
    with pytest.raises(ValueError, match=field) as caught:
        await micro.add_service(nc, **config)
    assert isinstance(caught.value, ConfigValidationError)
    assert isinstance(caught.value, NatsWireError)
    with pytest.raises(ValueError):
        py_service.ServiceConfig(**config)  # nats-py refuses the same


async def test_semver_prerelease_and_build_accepted(nc: natswire.Client) -> None:
    service = await micro.add_service(nc, name="sem_ver-1", version="1.0.0-alpha.1+build.5")
    assert service.version == "1.0.0-alpha.1+build.5"


async def test_add_endpoint_validates(nc: natswire.Client) -> None:
    service = await micro.add_service(nc, name="epv", version="1.0.0")
    bad_configs = (
        {"name": "a.b"},
        {"name": "ok", "subject": "a b"},
        {"name": "ok", "subject": "a.>.b"},
        {"name": "ok\n"},
    )
    for bad in bad_configs:
        with pytest.raises(ConfigValidationError):
            await service.add_endpoint(handler=echo, **bad)
    with pytest.raises(ConfigValidationError):
        await service.add_endpoint(name="nohandler", handler=None)
    assert service.info().endpoints == []


async def test_stop_during_in_flight_requests(nc: natswire.Client, peer: Any) -> None:
    """Requests already on their way when stop() is called are answered; later ones find
    no responders; none waits for its timeout."""
    service = await micro.add_service(nc, name="inflight", version="1.0.0")
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(req: micro.Request) -> None:
        started.set()
        await release.wait()
        await req.respond(req.data)

    await service.add_endpoint(name="slow", handler=slow)

    async def call(i: int) -> bytes | str:
        try:
            return (await peer.request("slow", b"%d" % i, timeout=20)).data
        except nats.errors.NoRespondersError:
            return "no responders"

    calls = [asyncio.ensure_future(call(i)) for i in range(20)]
    await asyncio.wait_for(started.wait(), 5)
    # Every request has been routed to the service (nats-py needs two flushes for a
    # barrier): the service holds one in its handler and the rest pending or in transit.
    await peer.flush()
    await peer.flush()
    stopping = asyncio.ensure_future(service.stop())
    await asyncio.sleep(0.1)
    assert not stopping.done()  # waits for the requests it already has
    late = await call(99)
    release.set()
    results = await asyncio.wait_for(asyncio.gather(*calls), 10)
    await asyncio.wait_for(stopping, 10)
    assert late == "no responders"
    assert results == [b"%d" % i for i in range(20)]


async def test_stop_after_the_connection_closed_does_not_hang(
    connect: Connect,
) -> None:
    nc = await connect()
    service = await micro.add_service(nc, name="closed", version="1.0.0")

    async def handler(req: micro.Request) -> None:
        await req.respond(b"")

    await service.add_endpoint(name="closed", handler=handler)
    await nc.close()
    await asyncio.wait_for(service.stop(), 5)
    assert service.stopped.is_set()


async def test_stop_with_a_stuck_handler_gives_up_after_the_drain_timeout(
    connect: Connect, peer: Any
) -> None:
    nc = await connect(drain_timeout=0.5)
    service = await micro.add_service(nc, name="stuck", version="1.0.0")
    never = asyncio.Event()
    arrived = asyncio.Event()

    async def stuck(req: micro.Request) -> None:
        arrived.set()
        await never.wait()

    await service.add_endpoint(name="stuck", handler=stuck)
    pending = asyncio.ensure_future(peer.request("stuck", b"", timeout=10))
    await asyncio.wait_for(arrived.wait(), 5)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(service.stop(), 5)
    assert 0.4 <= loop.time() - began < 3
    assert service.stopped.is_set()
    with pytest.raises(nats.errors.NoRespondersError):
        await peer.request("stuck", b"", timeout=2)
    pending.cancel()
