"""``Client.request_many``: scatter-gather requests (ADR-47) against a real nats-server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from support import Connect, peer_sync

import natswire
from natswire.client.scatter import ScatterGather, empty_payload
from natswire.errors import BadTimeoutError

pytestmark = pytest.mark.timeout(30)


async def responders(connect: Connect, subject: str, replies: list[bytes]) -> None:
    """One connection per reply in ``replies``, each answering every request with it."""
    for body in replies:
        nc = await connect()

        async def answer(msg: Any, body: bytes = body) -> None:
            await msg.respond(body)

        await nc.subscribe(subject, cb=answer)
        await nc.flush()


def inbox_subscriptions(nc: natswire.Client) -> list[str]:
    prefix = nc.options.inbox_prefix + "."
    return [s.subject for s in nc.stats.subscriptions if s.subject.startswith(prefix)]


async def test_gathers_every_reply_until_the_timeout(nc: natswire.Client, connect: Connect) -> None:
    await responders(connect, "rm.all", [b"a", b"b", b"c"])
    started = time.monotonic()
    replies = await nc.request_many("rm.all", b"q", timeout=0.5)
    elapsed = time.monotonic() - started
    assert sorted(m.data for m in replies) == [b"a", b"b", b"c"]
    assert 0.45 <= elapsed < 2.0
    assert inbox_subscriptions(nc) == []


async def test_max_msgs_ends_as_soon_as_it_is_reached(
    nc: natswire.Client, connect: Connect
) -> None:
    await responders(connect, "rm.max", [b"a", b"b", b"c"])
    started = time.monotonic()
    replies = await nc.request_many("rm.max", timeout=5.0, max_msgs=2)
    assert len(replies) == 2
    assert time.monotonic() - started < 2.0


async def test_stall_ends_after_a_gap_once_replies_came(
    nc: natswire.Client, connect: Connect
) -> None:
    await responders(connect, "rm.stall", [b"a", b"b"])
    started = time.monotonic()
    replies = await nc.request_many("rm.stall", timeout=5.0, stall=0.2)
    assert len(replies) == 2
    assert time.monotonic() - started < 2.0


async def test_stall_does_not_cut_the_wait_for_the_first_reply(
    nc: natswire.Client, connect: Connect
) -> None:
    late = await connect()

    async def slow(msg: Any) -> None:
        await asyncio.sleep(0.4)
        await msg.respond(b"late")

    await late.subscribe("rm.slow", cb=slow)
    await peer_sync(late)
    replies = await nc.request_many("rm.slow", timeout=3.0, stall=0.1)
    assert [m.data for m in replies] == [b"late"]


async def test_empty_payload_sentinel_ends_and_is_not_kept(nc: natswire.Client) -> None:
    async def stream(msg: Any) -> None:
        for body in (b"1", b"2", b"", b"3"):
            await msg.respond(body)

    await nc.subscribe("rm.sentinel", cb=stream)
    started = time.monotonic()
    replies = await nc.request_many("rm.sentinel", timeout=5.0, sentinel=True)
    assert [m.data for m in replies] == [b"1", b"2"]
    assert time.monotonic() - started < 2.0
    assert empty_payload(replies[0]) is False


async def test_a_callable_sentinel(nc: natswire.Client) -> None:
    async def stream(msg: Any) -> None:
        for body in (b"1", b"2", b"stop", b"3"):
            await msg.respond(body)

    await nc.subscribe("rm.callable", cb=stream)
    replies = await nc.request_many(
        "rm.callable", timeout=5.0, sentinel=lambda m: m.data == b"stop"
    )
    assert [m.data for m in replies] == [b"1", b"2"]


async def test_no_responders_gives_no_replies_at_once(nc: natswire.Client) -> None:
    started = time.monotonic()
    assert await nc.request_many("rm.nobody", timeout=5.0) == []
    assert time.monotonic() - started < 2.0
    assert inbox_subscriptions(nc) == []


async def test_async_iteration_takes_replies_as_they_come(
    nc: natswire.Client, connect: Connect
) -> None:
    await responders(connect, "rm.iter", [b"x", b"y"])
    seen = []
    async for msg in nc.request_many("rm.iter", b"", timeout=3.0, max_msgs=2):
        seen.append(msg.data)
    assert sorted(seen) == [b"x", b"y"]
    assert inbox_subscriptions(nc) == []


async def test_headers_reach_the_responders(nc: natswire.Client) -> None:
    async def echo_header(msg: Any) -> None:
        assert msg.headers is not None
        await msg.respond(msg.headers["X-Probe"].encode())

    await nc.subscribe("rm.headers", cb=echo_header)
    replies = await nc.request_many("rm.headers", timeout=3.0, max_msgs=1, headers={"X-Probe": "p"})
    assert [m.data for m in replies] == [b"p"]


async def test_a_nats_py_responder_answers(nc: natswire.Client, peer: Any) -> None:
    async def answer(msg: Any) -> None:
        await msg.respond(b"from nats-py")

    await peer.subscribe("rm.peer", cb=answer)
    await peer_sync(peer)
    replies = await nc.request_many("rm.peer", timeout=3.0, max_msgs=1)
    assert [m.data for m in replies] == [b"from nats-py"]


async def test_runs_once_and_checks_its_arguments(nc: natswire.Client) -> None:
    gather = nc.request_many("rm.once", timeout=0.1)
    assert isinstance(gather, ScatterGather)
    assert await gather == []
    with pytest.raises(RuntimeError):
        await gather
    with pytest.raises(BadTimeoutError):
        nc.request_many("rm.bad", timeout=0)
    with pytest.raises(BadTimeoutError):
        nc.request_many("rm.bad", stall=-1)
    with pytest.raises(ValueError):
        nc.request_many("rm.bad", max_msgs=0)
