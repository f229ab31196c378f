"""The client works unchanged on uvloop."""

from __future__ import annotations

import asyncio
import random

import pytest

import natswire
from natswire.server import NatsServer

uvloop = pytest.importorskip("uvloop")

pytestmark = pytest.mark.timeout(30)


async def scenario(url: str) -> None:
    assert "uvloop" in type(asyncio.get_running_loop()).__module__
    rng = random.Random(7)
    payloads = [rng.randbytes(rng.randint(0, 70_000)) for _ in range(300)] + [b"a\r\nMSG x"]

    async with await natswire.connect(url) as pub, await natswire.connect(url) as nc:
        # Pub/sub, byte-exact and in order, big and small.
        sub = await nc.subscribe("uv.data")
        await nc.flush()
        for payload in payloads:
            await pub.publish("uv.data", payload)
        await pub.flush()
        for payload in payloads:
            assert (await sub.next_msg(timeout=5)).data == payload

        # Request/reply through a coroutine callback, concurrent.
        async def handler(msg: natswire.Msg) -> None:
            await msg.respond(msg.data[::-1], headers=msg.headers)

        await nc.subscribe("uv.svc", cb=handler)
        await nc.flush()
        replies = await asyncio.gather(
            *(
                pub.request("uv.svc", b"%03d" % i, timeout=5, headers={"N": str(i)})
                for i in range(50)
            )
        )
        for i, reply in enumerate(replies):
            assert reply.data == (b"%03d" % i)[::-1]
            assert reply.headers is not None and reply.headers["N"] == str(i)

        with pytest.raises(natswire.errors.NoRespondersError):
            await pub.request("uv.nobody", b"", timeout=2)
        with pytest.raises(natswire.errors.TimeoutError):
            await sub.next_msg(timeout=0.05)

        # Drain delivers what is pending.
        for i in range(20):
            await pub.publish("uv.data", b"%d" % i)
        await pub.flush()
        await nc.flush()
        drain = asyncio.ensure_future(sub.drain())
        got = [m.data async for m in sub.messages]
        await asyncio.wait_for(drain, 5)
        assert got == [b"%d" % i for i in range(20)]
        assert sub.delivered == len(payloads) + 20
    assert pub.is_closed and nc.is_closed


def test_scenario_on_uvloop(server: NatsServer) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(asyncio.wait_for(scenario(server.url), 25))


def test_reconnect_on_uvloop() -> None:
    async def main(srv: NatsServer) -> None:
        reconnected = asyncio.Event()
        nc = await natswire.connect(
            srv.url, reconnect_time_wait=0.05, reconnected_cb=reconnected.set
        )
        try:
            sub = await nc.subscribe("uv.re")
            await nc.flush()
            await srv.arestart()
            await asyncio.wait_for(reconnected.wait(), 10)
            await nc.publish("uv.re", b"back")
            assert (await sub.next_msg(timeout=2)).data == b"back"
            assert nc.stats.reconnects == 1
        finally:
            await nc.close()

    with NatsServer() as srv, asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(asyncio.wait_for(main(srv), 25))


def test_scenario_over_websocket_on_uvloop() -> None:
    with (
        NatsServer(websocket_port=-1) as srv,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        runner.run(asyncio.wait_for(scenario(srv.websocket_url), 25))
