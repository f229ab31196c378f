"""Request/reply against a real nats-server."""

from __future__ import annotations

import asyncio
import builtins

import pytest
from support import Connect

import natswire
from natswire.errors import BadTimeoutError, NoRespondersError, TimeoutError

pytestmark = pytest.mark.timeout(30)


async def echo_service(nc: natswire.Client, subject: str) -> natswire.Subscription:
    async def handler(msg: natswire.Msg) -> None:
        await msg.respond(b"echo:" + msg.data, headers=msg.headers)

    sub = await nc.subscribe(subject, cb=handler)
    await nc.flush()
    return sub


async def test_request_reply(connect: Connect) -> None:
    service = await connect()
    nc = await connect()
    await echo_service(service, "svc.echo")
    resp = await nc.request("svc.echo", b"ping", timeout=2)
    assert resp.data == b"echo:ping"
    assert resp.subject.startswith("_INBOX.")
    with_headers = await nc.request("svc.echo", b"h", timeout=2, headers={"Trace": "t1"})
    assert with_headers.headers is not None and with_headers.headers["Trace"] == "t1"


async def test_hundred_concurrent_requests(connect: Connect) -> None:
    service = await connect()
    nc = await connect()
    await echo_service(service, "svc.many")
    replies = await asyncio.gather(
        *(nc.request("svc.many", b"%d" % i, timeout=5) for i in range(100))
    )
    assert [r.data for r in replies] == [b"echo:%d" % i for i in range(100)]
    # All share one wildcard inbox subscription (plus nothing else).
    assert len(nc._subscriptions) == 1


async def test_request_to_self(nc: natswire.Client) -> None:
    await echo_service(nc, "svc.self")
    assert (await nc.request("svc.self", b"me", timeout=2)).data == b"echo:me"


async def test_old_style_request(connect: Connect) -> None:
    service = await connect()
    nc = await connect()
    await echo_service(service, "svc.old")
    resp = await nc.request("svc.old", b"o", timeout=2, old_style=True)
    assert resp.data == b"echo:o"


async def test_no_responders_is_fast(nc: natswire.Client) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(NoRespondersError):
        await nc.request("svc.nobody", b"", timeout=5)
    assert loop.time() - start < 1.0
    with pytest.raises(NoRespondersError):
        await nc.request("svc.nobody", b"", timeout=5, old_style=True)
    assert loop.time() - start < 2.0
    assert nc.is_connected


async def test_request_timeout(connect: Connect) -> None:
    silent = await connect()
    nc = await connect()
    sub = await silent.subscribe("svc.silent")  # listens, never answers
    await silent.flush()
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError) as info:
        await nc.request("svc.silent", b"?", timeout=0.2)
    elapsed = loop.time() - start
    assert 0.15 <= elapsed < 1.5
    assert isinstance(info.value, builtins.TimeoutError)
    assert not nc.pending_requests, "the timed-out request must not leak its future"
    assert (await sub.next_msg(timeout=1)).data == b"?"
    # A late reply is ignored, later requests still work.
    await echo_service(silent, "svc.after")
    assert (await nc.request("svc.after", b"x", timeout=2)).data == b"echo:x"


@pytest.mark.parametrize("timeout", [0, -1, -0.5, "1"])
async def test_request_bad_timeout(nc: natswire.Client, timeout: object) -> None:
    with pytest.raises(BadTimeoutError) as info:
        await nc.request("svc.x", b"", timeout=timeout)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert nc.is_connected
    await nc.flush()


async def test_respond_from_iterator(connect: Connect) -> None:
    service = await connect()
    nc = await connect()
    sub = await service.subscribe("svc.iter")
    await service.flush()

    async def serve() -> None:
        async for msg in sub.messages:
            await msg.respond(msg.data.upper())

    task = asyncio.ensure_future(serve())
    try:
        for word in (b"a", b"bc", b""):
            assert (await nc.request("svc.iter", word, timeout=2)).data == word.upper()
    finally:
        await sub.unsubscribe()
        await asyncio.wait_for(task, 2)


async def test_each_request_times_out_on_its_own_deadline(connect: Connect) -> None:
    """Requests with different timeouts share one expiry timer: a short one fails while
    a longer one, sent before or after it, keeps waiting and still gets its reply."""
    service = await connect()
    nc = await connect()
    held: list[natswire.Msg] = []
    await service.subscribe("svc.held", cb=held.append)
    await service.subscribe("svc.silent2")
    await service.flush()
    before = asyncio.ensure_future(nc.request("svc.held", b"a", timeout=30))
    with pytest.raises(TimeoutError):
        await nc.request("svc.silent2", b"", timeout=0.1)
    after = asyncio.ensure_future(nc.request("svc.held", b"b", timeout=30))
    with pytest.raises(TimeoutError):
        await nc.request("svc.silent2", b"", timeout=0.1)
    while len(held) < 2:
        await asyncio.sleep(0.01)
    assert not before.done() and not after.done()
    assert nc.pending_requests == 2
    for msg in held:
        await msg.respond(msg.data.upper())
    assert [(await before).data, (await after).data] == [b"A", b"B"]
    assert nc.pending_requests == 0
    assert nc.stats.request_failures == {"TimeoutError": 2}
    assert nc.stats.request_latency.count == 2


async def test_request_that_cannot_be_sent_leaves_nothing_pending(nc: natswire.Client) -> None:
    with pytest.raises(natswire.errors.MaxPayloadError):
        await nc.request("svc.big", b"x" * (nc.max_payload + 1), timeout=1)
    with pytest.raises(natswire.errors.BadSubjectError):
        await nc.request("svc.bad subject", b"", timeout=1)
    assert nc.pending_requests == 0
    assert nc.stats.request_failures == {}


async def test_interleaved_timeouts_expire_exactly_the_unanswered(connect: Connect) -> None:
    """Three timeouts interleaved, every other request answered: each unanswered one
    fails with TimeoutError, each answered one gets its reply, nothing is left over."""
    service = await connect()
    nc = await connect()

    async def answer_even(msg: natswire.Msg) -> None:
        if int(msg.data) % 2 == 0:
            await msg.respond(msg.data)

    await service.subscribe("svc.half", cb=answer_even)
    await service.flush()
    timeouts = (0.2, 0.3, 0.5)
    results = await asyncio.gather(
        *(nc.request("svc.half", b"%d" % n, timeout=timeouts[n % 3]) for n in range(300)),
        return_exceptions=True,
    )
    for n, result in enumerate(results):
        if n % 2 == 0:
            assert isinstance(result, natswire.Msg) and result.data == b"%d" % n
        else:
            assert isinstance(result, TimeoutError), (n, result)
    assert nc.pending_requests == 0
    assert nc.stats.request_failures == {"TimeoutError": 150}
    assert nc.requests.deadlines.entries() == 0


async def test_deadlines_of_answered_requests_do_not_pile_up(connect: Connect) -> None:
    """Answered requests with a long timeout leave their deadlines behind until the
    queue is compacted: it stays within twice the pending requests plus a margin."""
    from natswire.client import deadlines

    service = await connect()
    nc = await connect()
    await echo_service(service, "svc.long")
    most = 0
    for _ in range(30):
        await asyncio.gather(*(nc.request("svc.long", b"x", timeout=600) for _ in range(200)))
        most = max(most, nc.requests.deadlines.entries())
    assert nc.pending_requests == 0
    assert deadlines._COMPACT_SLACK < most <= 2 * 200 + deadlines._COMPACT_SLACK + 201
