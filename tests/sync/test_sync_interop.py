"""Core NATS scenarios, each run against the asyncio and the blocking client (the
``driver`` fixture), with nats-py as the independent peer on the other side."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support import peer_sync
from sync_drivers import Driver

from natswire.errors import NoRespondersError, TimeoutError

pytestmark = pytest.mark.timeout(60)


async def test_publish_subscribe_to_itself(driver: Driver) -> None:
    inbox = await driver.subscribe("drv.self.*")
    await driver.flush()
    for i in range(20):
        await driver.publish(f"drv.self.{i}", b"m%d" % i)
    got = [await inbox.next() for _ in range(20)]
    assert [m.data for m in got] == [b"m%d" % i for i in range(20)]
    assert [m.subject for m in got] == [f"drv.self.{i}" for i in range(20)]


async def test_driver_publishes_nats_py_receives(driver: Driver, peer: Any) -> None:
    sub = await peer.subscribe("drv.to.py")
    await peer_sync(peer)
    for i in range(50):
        await driver.publish("drv.to.py", b"%d" % i)
    await driver.flush()
    got = [(await sub.next_msg(timeout=2)).data for _ in range(50)]
    assert got == [b"%d" % i for i in range(50)]


async def test_nats_py_publishes_driver_receives(driver: Driver, peer: Any) -> None:
    inbox = await driver.subscribe("drv.from.py")
    await driver.flush()
    for i in range(50):
        await peer.publish("drv.from.py", b"%d" % i, reply="drv.reply")
    await peer.flush()
    got = [await inbox.next() for _ in range(50)]
    assert [m.data for m in got] == [b"%d" % i for i in range(50)]
    assert {m.reply for m in got} == {"drv.reply"}


async def test_headers_both_ways(driver: Driver, peer: Any) -> None:
    py_sub = await peer.subscribe("drv.hdr.py")
    inbox = await driver.subscribe("drv.hdr.nw")
    await peer_sync(peer)
    await driver.flush()
    await driver.publish("drv.hdr.py", b"a", headers={"X-One": "1", "X-Two": "two"})
    await driver.flush()
    msg = await py_sub.next_msg(timeout=2)
    assert msg.headers == {"X-One": "1", "X-Two": "two"}
    await peer.publish("drv.hdr.nw", b"b", headers={"Trace": "abc"})
    got = await inbox.next()
    assert got.data == b"b" and got.headers is not None and got.headers["Trace"] == "abc"


async def test_request_to_nats_py_responder(driver: Driver, peer: Any) -> None:
    async def answer(msg: Any) -> None:
        await msg.respond(b"py:" + msg.data)

    await peer.subscribe("drv.svc.py", cb=answer)
    await peer_sync(peer)
    replies = [await driver.request("drv.svc.py", b"%d" % i) for i in range(20)]
    assert [r.data for r in replies] == [b"py:%d" % i for i in range(20)]


async def test_nats_py_requests_driver_responder(driver: Driver, peer: Any) -> None:
    await driver.serve("drv.svc.nw", lambda msg: b"nw:" + msg.data)
    await driver.flush()
    replies = await asyncio.gather(
        *(peer.request("drv.svc.nw", b"%d" % i, timeout=2) for i in range(20))
    )
    assert sorted(r.data for r in replies) == sorted(b"nw:%d" % i for i in range(20))


async def test_request_with_headers_to_itself(driver: Driver) -> None:
    await driver.serve("drv.svc.hdr", lambda msg: msg.headers["Q"].encode())
    await driver.flush()
    reply = await driver.request("drv.svc.hdr", b"", headers={"Q": "asked"})
    assert reply.data == b"asked"


async def test_no_responders_and_timeout(driver: Driver, peer: Any) -> None:
    with pytest.raises(NoRespondersError):
        await driver.request("drv.nobody", b"x", timeout=2)
    await peer.subscribe("drv.silent")  # listens, never answers
    await peer_sync(peer)
    with pytest.raises(TimeoutError):
        await driver.request("drv.silent", b"x", timeout=0.2)
