"""natswire against nats-py, the independent peer, through a real nats-server."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from support import peer_sync

import natswire
from natswire import Headers

pytestmark = pytest.mark.timeout(60)

COUNT = 3000
MAX_SIZE = 64 * 1024
TRICKY = [b"\r\n", b"MSG ", b"HMSG x 1 2 3\r\n", b"PING\r\n", b"\r\n\r\n", b"\x00", b"\xff"]


def payloads(count: int, seed: int) -> list[bytes]:
    """Random sizes from 0 to 64 KiB, mostly small, with protocol look-alikes inside."""
    rng = random.Random(seed)
    out: list[bytes] = [b"", b"\r\n", b"MSG foo 1 3\r\nbar\r\n"]
    while len(out) < count:
        size = rng.choice([rng.randint(0, 64), rng.randint(0, 2048), rng.randint(0, MAX_SIZE)])
        body = bytearray(rng.randbytes(size))
        for _ in range(rng.randint(0, 3)):
            if size:
                token = rng.choice(TRICKY)
                at = rng.randint(0, size)
                body[at : at + len(token)] = token
        out.append(bytes(body[:size]) if len(body) > size else bytes(body))
    out.append(b"x" * MAX_SIZE)
    return out


async def test_natswire_publishes_nats_py_receives(nc: natswire.Client, peer: Any) -> None:
    data = payloads(COUNT, seed=1)
    sub = await peer.subscribe(
        "interop.a", pending_msgs_limit=len(data) + 10, pending_bytes_limit=1 << 30
    )
    await peer_sync(peer)
    for payload in data:
        await nc.publish("interop.a", payload)
    await nc.flush()
    got = []
    for _ in data:
        msg = await sub.next_msg(timeout=5)
        got.append(msg.data)
    assert len(got) == len(data)
    for i, (sent, received) in enumerate(zip(data, got, strict=True)):
        assert sent == received, f"message {i} differs ({len(sent)} vs {len(received)} bytes)"
    assert nc.stats.out_msgs == len(data)
    assert nc.stats.out_bytes == sum(map(len, data))


async def test_nats_py_publishes_natswire_receives(nc: natswire.Client, peer: Any) -> None:
    data = payloads(COUNT, seed=2)
    sub = await nc.subscribe("interop.b")
    await nc.flush()
    for payload in data:
        await peer.publish("interop.b", payload)
    await peer_sync(peer)
    for i, sent in enumerate(data):
        msg = await sub.next_msg(timeout=5)
        assert msg.subject == "interop.b"
        assert msg.data == sent, f"message {i} differs"
    with pytest.raises(natswire.errors.TimeoutError):
        await sub.next_msg(timeout=0.05)
    assert nc.stats.in_msgs == len(data)
    assert nc.stats.in_bytes == sum(map(len, data))


async def test_natswire_receives_with_callback_in_order(nc: natswire.Client, peer: Any) -> None:
    data = payloads(500, seed=3)
    got: list[bytes] = []
    done = asyncio.Event()

    def on_msg(msg: natswire.Msg) -> None:
        got.append(msg.data)
        if len(got) == len(data):
            done.set()

    await nc.subscribe("interop.cb", cb=on_msg)
    await nc.flush()
    for payload in data:
        await peer.publish("interop.cb", payload)
    await asyncio.wait_for(done.wait(), 10)
    assert got == data


async def test_headers_natswire_to_nats_py(nc: natswire.Client, peer: Any) -> None:
    sub = await peer.subscribe("interop.h")
    await peer_sync(peer)
    await nc.publish("interop.h", b"one", headers={"X-Trace": "abc", "Content-Type": "text/x"})
    multi = Headers()
    multi.add("X-Multi", "a")
    multi.add("X-Multi", "b")
    await nc.publish("interop.h", b"two", headers=multi)
    await nc.publish("interop.h", b"", headers={"Empty-Payload": "yes"})
    await nc.flush()

    first = await sub.next_msg(timeout=2)
    assert first.data == b"one"
    assert first.headers == {"X-Trace": "abc", "Content-Type": "text/x"}
    second = await sub.next_msg(timeout=2)
    assert second.data == b"two"
    # nats-py keeps one value per key (the last); the raw frame carries both.
    assert second.headers is not None and second.headers["X-Multi"] in ("a", "b")
    third = await sub.next_msg(timeout=2)
    assert third.data == b"" and third.headers == {"Empty-Payload": "yes"}


async def test_headers_nats_py_to_natswire(nc: natswire.Client, peer: Any) -> None:
    sub = await nc.subscribe("interop.h2")
    await nc.flush()
    await peer.publish("interop.h2", b"payload\r\n", headers={"A": "1", "B-Key": "two words"})
    await peer.publish("interop.h2", b"plain")
    await peer_sync(peer)

    msg = await sub.next_msg(timeout=2)
    assert msg.data == b"payload\r\n"
    assert msg.headers is not None
    assert msg.headers["A"] == "1"
    assert msg.headers["B-Key"] == "two words"
    assert msg.header is not None and msg.header["A"] == "1"
    plain = await sub.next_msg(timeout=2)
    assert plain.data == b"plain" and plain.headers is None


async def test_multi_value_headers_round_trip_natswire(nc: natswire.Client, peer: Any) -> None:
    """Both values of a repeated header survive the server (natswire on both ends)."""
    sub = await nc.subscribe("interop.multi")
    await nc.flush()
    headers = Headers()
    headers.add("X-Multi", "a")
    headers.add("X-Multi", "b")
    await nc.publish("interop.multi", b"m", headers=headers)
    msg = await sub.next_msg(timeout=2)
    assert msg.headers is not None
    assert msg.headers.get_all("X-Multi") == ["a", "b"]


async def test_request_natswire_to_nats_py_responder(nc: natswire.Client, peer: Any) -> None:
    async def handler(msg: Any) -> None:
        await msg.respond(b"re:" + msg.data)

    await peer.subscribe("svc.py", cb=handler)
    await peer_sync(peer)
    resp = await nc.request("svc.py", b"hello", timeout=2)
    assert resp.data == b"re:hello"

    replies = await asyncio.gather(
        *(nc.request("svc.py", str(i).encode(), timeout=5) for i in range(100))
    )
    assert [r.data for r in replies] == [b"re:%d" % i for i in range(100)]


async def test_request_nats_py_to_natswire_responder(nc: natswire.Client, peer: Any) -> None:
    async def handler(msg: natswire.Msg) -> None:
        headers = {"Echo": msg.headers["X"]} if msg.headers else None
        await msg.respond(b"nw:" + msg.data, headers=headers)

    await nc.subscribe("svc.nw", cb=handler)
    await nc.flush()
    resp = await peer.request("svc.nw", b"hi", timeout=2, headers={"X": "y"})
    assert resp.data == b"nw:hi"
    assert resp.headers == {"Echo": "y"}

    replies = await asyncio.gather(
        *(peer.request("svc.nw", str(i).encode(), timeout=5) for i in range(100))
    )
    assert [r.data for r in replies] == [b"nw:%d" % i for i in range(100)]


async def test_nats_py_no_responders_from_natswire_side(nc: natswire.Client, peer: Any) -> None:
    """Both clients agree there is nobody on the subject."""
    import nats.errors

    with pytest.raises(nats.errors.NoRespondersError):
        await peer.request("nobody.here", b"", timeout=1)
    with pytest.raises(natswire.errors.NoRespondersError):
        await nc.request("nobody.here", b"", timeout=1)
