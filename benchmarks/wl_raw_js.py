"""The raw client's JetStream trials: the ceilings of the JS push auto-ack, JS fetch+ack,
JS pub→consume→ack and the KV put and get rows.

The hand-written client (rawclient.py) sets up what ``js.subscribe(subject,
durable="bench", cb=cb)`` sets up in natswire and nats-py (a file-storage stream filled
beforehand, a durable push consumer with explicit acks and the server's default window of
1000 unacked messages, delivering to a subject the client subscribed to), through the
JetStream API's JSON requests, and then does only what the row times: count every
delivery and ack it with an empty ``PUB`` to its reply subject, written once per read.
Whatever rate it reaches is what the server allows a client that costs nothing; a real
client's ratio to nats-py cannot be above this one's.

The pull trials do what ``fetch`` and ``publish_async`` do on the wire: a durable pull
consumer (explicit acks, filtered) asked for up to JS_BATCH messages by a ``no_wait``
pull request, and by one that waits when none came, each delivery acked with an empty
``PUB`` as it is read and the next request sent once the request is over; the flow's
publisher gives every publish a reply subject of its own and keeps at most JS_WINDOW of
them waiting for their acks, counted by one subscription on the reply subjects.

The KV trials make the stream a Key-Value bucket is (``KV_<bucket>`` on
``$KV.<bucket>.>``, one value per key, Direct Get allowed) and time the requests that
``kv.put`` and ``kv.get`` make: a publish to ``$KV.<bucket>.<key>`` waiting for its ack
(checked for an error), and a Direct Get of the key (an HMSG whose headers hold no
status). What is left out is what a KV client must add: the entry's object, its
revision and operation, the key's validation.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

from .common import JS_BATCH, JS_SUBJECT, JS_WINDOW, Counter, now, payload, timeout_for, wait
from .rawclient import RawConnection


async def _api(nc: RawConnection, subject: str, body: dict[str, Any] | None = None) -> Any:
    """One JetStream API request; its JSON answer, or RuntimeError with the server's error."""
    reply = json.loads(await nc.request(subject, json.dumps(body or {}).encode(), 10.0))
    if "error" in reply:
        raise RuntimeError(f"{subject}: {reply['error']}")
    return reply


async def _fill(nc: RawConnection, stream: str, subject: str, data: bytes, total: int) -> None:
    """Store ``total`` messages: plain publishes in chunks of JS_WINDOW, each chunk
    waited for until the stream holds it (as the other clients' fill)."""
    stored = 0
    while stored < total:
        chunk = min(JS_WINDOW, total - stored)
        for _ in range(chunk):
            await nc.publish(subject, data)
        await nc.flush()
        stored += chunk
        deadline = now() + 30.0
        while (await _api(nc, f"$JS.API.STREAM.INFO.{stream}"))["state"]["messages"] < stored:
            if now() > deadline:
                raise RuntimeError(f"the stream did not store {stored} messages in 30 s")
            await asyncio.sleep(0.002)


async def _settled(nc: RawConnection, stream: str, total: int, stored: int | None = None) -> None:
    """Wait until the server says what ``js_settled`` checks for the other clients: the
    stream holds ``stored`` messages (default: every one), and the consumer delivered
    each exactly once and has them all acked."""
    deadline = now() + 10.0
    kept = total if stored is None else stored
    expected = (kept, total, total, total, 0, 0, 0)
    while True:
        stream_state = (await _api(nc, f"$JS.API.STREAM.INFO.{stream}"))["state"]
        info = await _api(nc, f"$JS.API.CONSUMER.INFO.{stream}.bench")
        state = (
            stream_state["messages"],
            stream_state["last_seq"],
            info["delivered"]["stream_seq"],
            info["ack_floor"]["stream_seq"],
            info["num_ack_pending"],
            info["num_pending"],
            info["num_redelivered"],
        )
        if state == expected:
            return
        if now() > deadline:
            raise RuntimeError(
                "stream messages, last sequence; consumer delivered, ack floor, ack "
                f"pending, pending, redelivered = {state}; expected {expected}"
            )
        await asyncio.sleep(0.01)


class _Trial(NamedTuple):
    """A raw trial's connection (with a request inbox), its stream and that stream's
    subject, and a token for subjects of its own."""

    nc: RawConnection
    stream: str
    subject: str
    token: str


def _bench_stream(retention: str) -> Callable[[str], dict[str, Any]]:
    """The JSON of a fresh file-storage stream on a subject of its own, by token."""

    def config(token: str) -> dict[str, Any]:
        return {
            "name": f"BENCH-{token}",
            "subjects": [f"{JS_SUBJECT}.{token}"],
            "storage": "file",
            "retention": retention,
        }

    return config


@asynccontextmanager
async def _trial(url: str, stream_config: Callable[[str], dict[str, Any]]) -> AsyncIterator[_Trial]:
    """Connect, create the stream ``stream_config(token)`` describes, and on the way out
    delete it and close; errors the server reported fail a trial that otherwise passed."""
    nc = await RawConnection.connect(url)
    token = os.urandom(6).hex()
    nc.start_inbox(f"_INBOX.raw{token}".encode())
    try:
        config = stream_config(token)
        stream = config["name"]
        await _api(nc, f"$JS.API.STREAM.CREATE.{stream}", config)
        try:
            yield _Trial(nc, stream, config["subjects"][0], token)
        finally:
            await _api(nc, f"$JS.API.STREAM.DELETE.{stream}")
    finally:
        nc.close()
    if nc.errors:
        raise RuntimeError(f"server reported {len(nc.errors)} error(s): {nc.errors[:3]}")


def _check_received(what: str, got: int, nbytes: int, total: int, size: int) -> None:
    if got != total or nbytes != total * size:
        raise RuntimeError(f"{what} {got} messages ({nbytes} B), expected {total} of {size} B")


async def jspush(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """Push consumer, durable, explicit acks sent after each delivery is counted."""
    async with _trial(url, _bench_stream("limits")) as (nc, stream, subject, token):
        deliver = f"_DLV.raw{token}"
        total = warmup + n
        await _fill(nc, stream, subject, payload(size), total)
        counter = Counter()
        started = counter.at(warmup) if warmup else None
        finished = counter.at(total)
        ack = nc.ack

        def cb(_subject: bytes, reply: bytes | None, data: bytes) -> None:
            counter.count += 1
            counter.nbytes += len(data)
            if counter.count == counter.next:
                counter.hit()
            if reply:
                ack(reply)

        nc.subscribe(deliver, cb)
        await nc.flush()
        consumer = {
            "durable_name": "bench",
            "deliver_subject": deliver,
            "ack_policy": "explicit",
            "filter_subject": subject,
        }
        await _api(
            nc,
            f"$JS.API.CONSUMER.CREATE.{stream}.bench.{subject}",
            {"stream_name": stream, "config": consumer},
        )
        t0 = await started if started is not None else now()
        end = await wait(finished, timeout_for(total, 2_000.0), "the last push delivery")
        await nc.flush()
        _check_received("delivered", counter.count, counter.nbytes, total, size)
        await _settled(nc, stream, total)
    return {"metrics": {"rate": n / (end - t0)}}


class _Fetcher:
    """A durable pull consumer ``bench`` read as ``fetch`` reads it: a ``no_wait`` pull
    request for up to JS_BATCH messages and, when none came, one that waits (5 s); each
    delivery counted and acked as it is read, and the next request sent once the batch
    is in or the server ended the request (404, 408). Any other status fails the trial."""

    def __init__(self, nc: RawConnection, stream: str, token: str) -> None:
        self.nc = nc
        self.next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.bench"
        self.inbox = f"_FETCH.raw{token}."
        self.got = 0
        self.nbytes = 0
        self.requests = 0
        self.reply = b""
        self.request_end = 0
        self.done: asyncio.Future[None] | None = None
        self.failure = ""
        sid = nc.subscribe(self.inbox + "*", self._on_msg)
        nc.status_hooks[sid] = self._on_status

    def _end_request(self) -> None:
        done = self.done
        if done is not None and not done.done():
            done.set_result(None)

    def _on_msg(self, _subject: bytes, reply: bytes | None, data: bytes) -> None:
        self.got += 1
        self.nbytes += len(data)
        if reply:
            self.nc.ack(reply)
        if self.got == self.request_end:
            self._end_request()

    def _on_status(self, subject: bytes, status: str) -> None:
        code = status[9:12]  # "NATS/1.0 408 Request Timeout"
        if code == "100" or subject != self.reply:
            return  # a heartbeat, or the end of a request already over
        if code not in ("404", "408"):
            self.failure = status
        self._end_request()

    async def _request(self, batch: int, no_wait: bool) -> int:
        """One pull request: how many messages it brought."""
        before = self.got
        self.requests += 1
        self.reply = f"{self.inbox}{self.requests}".encode()
        self.request_end = before + batch
        self.done = asyncio.get_running_loop().create_future()
        if no_wait:
            body = b'{"batch":%d,"no_wait":true}' % batch
        else:
            body = b'{"batch":%d,"expires":5000000000}' % batch
        await self.nc.publish(self.next_subject, body, self.reply)
        await wait(self.done, 10.0, "the end of a pull request")
        if self.failure:
            raise RuntimeError(f"pull request: {self.failure}")
        return self.got - before

    async def read(self, count: int) -> None:
        """Fetch and ack ``count`` more messages."""
        end = self.got + count
        while self.got < end:
            batch = min(JS_BATCH, end - self.got)
            if not await self._request(batch, no_wait=True):
                await self._request(batch, no_wait=False)


async def _pull_consumer(nc: RawConnection, stream: str, subject: str) -> None:
    consumer = {"durable_name": "bench", "ack_policy": "explicit", "filter_subject": subject}
    await _api(
        nc,
        f"$JS.API.CONSUMER.CREATE.{stream}.bench.{subject}",
        {"stream_name": stream, "config": consumer},
    )


async def jsfetch(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """Fetch+ack from a stream filled beforehand, timed until a PONG after the last ack."""
    async with _trial(url, _bench_stream("limits")) as (nc, stream, subject, token):
        total = warmup + n
        await _fill(nc, stream, subject, payload(size), total)
        await _pull_consumer(nc, stream, subject)
        fetcher = _Fetcher(nc, stream, token)
        await fetcher.read(warmup)
        await nc.flush()
        t0 = now()
        await fetcher.read(n)
        await nc.flush()
        took = now() - t0
        _check_received("fetched", fetcher.got, fetcher.nbytes, total, size)
        await _settled(nc, stream, total)
    return {"metrics": {"rate": n / took}}


class _Publisher:
    """Publishes with a reply subject of its own each (as ``publish_async`` does), at
    most JS_WINDOW waiting for their acks, which one subscription counts."""

    def __init__(self, nc: RawConnection, subject: str, token: str) -> None:
        self.nc = nc
        self.subject = subject
        self.reply_prefix = f"_PACK.raw{token}.".encode()
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self.wake: asyncio.Future[None] | None = None
        self.wake_at = 0
        sid = nc.subscribe(f"_PACK.raw{token}.*", self._on_ack)
        nc.status_hooks[sid] = self._on_status

    def _on_ack(self, _subject: bytes, _reply: bytes | None, data: bytes) -> None:
        self.acked += 1
        if b'"error"' in data:
            self.failed += 1
        self._maybe_wake()

    def _on_status(self, _subject: bytes, status: str) -> None:
        self.acked += 1
        self.failed += 1
        self.nc.errors.append(f"publish ack: {status}")
        self._maybe_wake()

    def _maybe_wake(self) -> None:
        wake = self.wake
        if self.acked == self.wake_at and wake is not None and not wake.done():
            wake.set_result(None)

    async def _acked(self, count: int) -> None:
        if self.acked < count:
            self.wake_at = count
            self.wake = asyncio.get_running_loop().create_future()
            await wait(self.wake, timeout_for(count, 5_000.0), "the publish acks")

    async def publish(self, count: int, data: bytes) -> None:
        """``count`` publishes, then wait for every ack."""
        publish = self.nc.publish
        prefix = self.reply_prefix
        for _ in range(count):
            if self.sent - self.acked >= JS_WINDOW:
                await self._acked(self.sent - JS_WINDOW + 1)
            self.sent += 1
            await publish(self.subject, data, prefix + b"%x" % self.sent)
        await self._acked(self.sent)


async def jsflow(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """Publish→consume→ack on an interest-retention stream: windowed publishing and a
    fetch+ack reader at once, timed from the first publish to a PONG after the last
    ack and the last publish ack."""
    async with _trial(url, _bench_stream("interest")) as (nc, stream, subject, token):
        await _pull_consumer(nc, stream, subject)
        data = payload(size)
        publisher = _Publisher(nc, subject, token)
        fetcher = _Fetcher(nc, stream, token)

        async def flow(count: int) -> None:
            await wait(
                asyncio.gather(publisher.publish(count, data), fetcher.read(count)),
                timeout_for(count, 2_000.0),
                "the flow",
            )
            await nc.flush()

        await flow(warmup)
        t0 = now()
        await flow(n)
        took = now() - t0
        total = warmup + n
        if publisher.failed or publisher.acked != total:
            raise RuntimeError(
                f"{publisher.acked} publish acks ({publisher.failed} errors), expected {total}"
            )
        _check_received("fetched", fetcher.got, fetcher.nbytes, total, size)
        await _settled(nc, stream, total, stored=0)
    return {"metrics": {"rate": n / took}}


def _kv_stream(token: str) -> dict[str, Any]:
    """The JSON of the stream a Key-Value bucket ``bench<token>`` is."""
    bucket = f"bench{token}"
    return {
        "name": f"KV_{bucket}",
        "subjects": [f"$KV.{bucket}.>"],
        "max_msgs_per_subject": 1,
        "allow_direct": True,
        "allow_rollup_hdrs": True,
        "deny_delete": True,
        "discard": "new",
        "storage": "file",
        "duplicate_window": 120_000_000_000,
    }


async def _kv_trial(url: str, n: int, warmup: int, get: bool, data: bytes) -> float:
    async with _trial(url, _kv_stream) as (nc, stream, _subject, token):
        bucket = f"bench{token}"
        puts = [f"$KV.{bucket}.k{i}" for i in range(100)]
        gets = [f"$JS.API.DIRECT.GET.{stream}.$KV.{bucket}.k{i}" for i in range(100)]
        request = nc.request
        if get:
            for subject in puts:
                await request(subject, data)
            for i in range(warmup):
                await request(gets[i % 100], b"")
            t0 = now()
            for i in range(n):
                value = await request(gets[i % 100], b"")
            took = now() - t0
            if value != data:
                raise RuntimeError("the Direct Get returned another value")
        else:
            for i in range(warmup):
                await request(puts[i % 100], data)
            t0 = now()
            for i in range(n):
                ack = await request(puts[i % 100], data)
                if b'"error"' in ack:
                    raise RuntimeError(f"put: {ack.decode(errors='replace')}")
            took = now() - t0
    return n / took


async def kvput(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """Sequential puts: a publish to the key's subject, each waiting for its ack."""
    return {"metrics": {"rate": await _kv_trial(url, n, warmup, False, payload(size))}}


async def kvget(url: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    """Sequential Direct Gets of 100 stored keys."""
    return {"metrics": {"rate": await _kv_trial(url, n, warmup, True, payload(size))}}
