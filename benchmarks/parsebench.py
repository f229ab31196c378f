"""The parser micro-benchmark: frames/s for the same bytes, fed whole and in 4 KiB chunks.

natswire: ``natswire.protocol.Parser().receive_data(data) -> list[frames]``.
nats-py:  ``nats.protocol.parser.Parser(nc).parse(data)``, which calls
          ``nc._process_msg(...)`` for every message (a stand-in nc counts them).
raw:      rawclient.RawParser, the find/split loop producing one tuple per frame.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from typing import Any

from .common import now, payload

CHUNK = 4096
HEADERS = b"NATS/1.0\r\nFoo: bar\r\n\r\n"

#: name -> the bytes of one frame
VARIANTS = {
    "msg16": b"MSG bench.parse 1 16\r\n" + payload(16) + b"\r\n",
    "msg1k": b"MSG bench.parse 1 1024\r\n" + payload(1024) + b"\r\n",
    "hmsg": (
        (b"HMSG bench.parse 1 _INBOX.abc %d %d\r\n" % (len(HEADERS), len(HEADERS) + 16))
        + HEADERS
        + payload(16)
        + b"\r\n"
    ),
}
#: MSG 16 B frames whose reply subjects all differ (as for requests or JetStream acks): no
#: two control lines alike, unlike the VARIANTS, whose frames are all the same.
UNIQUE_REPLIES = "msg16u"
#: HMSG 16 B frames with unique JetStream ack subjects as reply, as a consumer receives
#: messages published with headers: no two control lines alike.
UNIQUE_JS_HMSG = "hmsg16u"
#: frames per buffer = n // SCALE (1 KiB frames are 40x the bytes of 16 B ones)
SCALE = {"msg16": 1, "msg1k": 10, "hmsg": 1, UNIQUE_REPLIES: 1, UNIQUE_JS_HMSG: 1}


def build(variant: str, frames: int) -> tuple[bytes, list[bytes]]:
    if variant == UNIQUE_REPLIES:
        body = payload(16)
        data = b"".join(
            b"MSG bench.parse 1 _INBOX.%08d 16\r\n%b\r\n" % (i, body) for i in range(frames)
        )
    elif variant == UNIQUE_JS_HMSG:
        body = HEADERS + payload(16)
        data = b"".join(
            b"HMSG bench.parse 1 $JS.ACK.BENCH.c.1.%d.%d.1764979200000000000.%d %d %d\r\n%b\r\n"
            % (i + 1, i + 1, frames - i - 1, len(HEADERS), len(body), body)
            for i in range(frames)
        )
    else:
        data = VARIANTS[variant] * frames
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    return data, chunks


def _natswire(chunks: list[bytes]) -> int:
    from natswire.protocol import Parser

    parser = Parser()
    receive = parser.receive_data
    count = 0
    for chunk in chunks:
        count += len(receive(chunk))
    return count


class _StubNC:
    def __init__(self) -> None:
        self.count = 0

    async def _process_msg(self, sid: Any, subject: Any, reply: Any, data: Any, hdr: Any) -> None:
        self.count += 1

    async def _process_ping(self) -> None:
        pass

    async def _process_pong(self) -> None:
        pass

    async def _process_info(self, info: Any) -> None:
        pass

    async def _process_err(self, err: Any) -> None:
        pass

    async def _process_op_err(self, err: Any) -> None:
        pass


def _natspy(chunks: list[bytes]) -> int:
    from nats.protocol.parser import Parser

    nc = _StubNC()
    parser = Parser(nc)

    async def feed() -> None:
        parse = parser.parse
        for chunk in chunks:
            await parse(chunk)

    # The parser never suspends on a stand-in nc: drive the coroutine without a loop so
    # that event-loop overhead is not charged to it.
    coro = feed()
    try:
        coro.send(None)
    except StopIteration:
        pass
    else:
        coro.close()
        asyncio.run(feed())  # pragma: no cover - only if a future version does suspend
    return nc.count


def _raw(chunks: list[bytes]) -> int:
    from .rawclient import RawParser

    parser = RawParser()
    feed = parser.feed
    count = 0
    for chunk in chunks:
        count += len(feed(chunk))
    return count


PARSERS: dict[str, Callable[[list[bytes]], int]] = {
    "natswire": _natswire,
    "nats-py": _natspy,
    "raw": _raw,
}


def run(client: str, n: int, repeats: int = 3) -> dict[str, Any]:
    """frames/s per variant and mode; the best of ``repeats`` passes after a warm-up."""
    parse = PARSERS[client]
    metrics: dict[str, float] = {}
    for variant in SCALE:
        frames = max(1, n // SCALE[variant])
        data, chunks = build(variant, frames)
        for mode, pieces in (("whole", [data]), ("chunked", chunks)):
            got = parse(pieces[: max(1, len(pieces) // 10)] if mode == "chunked" else pieces)
            best = float("inf")
            for _ in range(repeats):
                gc.collect()
                t0 = now()
                got = parse(pieces)
                best = min(best, now() - t0)
            if got != frames:
                raise RuntimeError(
                    f"{client} parsed {got} frames of {variant}/{mode}, expected {frames}"
                )
            metrics[f"{variant}_{mode}"] = frames / best
    return {"metrics": metrics, "expect_in": None, "expect_out": None}
