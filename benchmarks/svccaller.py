"""The caller of the ``service`` workload: the same process for both services.

``python -m benchmarks.svccaller --url URL --subject S --size B --n N --warmup W``
connects with the raw client (on uvloop when installed) and keeps 100 requests in
flight to ``S``: 100 reply slots, each sending its next request from the callback that
receives the reply to its last one, so the caller costs as little CPU as a caller can
and the service under test is what is measured. Warm-up first (not timed); every reply
must echo its request. Prints one JSON line: ``{"rate": req/s}`` or ``{"error": "..."}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from .common import emit, now, run, shares, timeout_for, wait
from .rawclient import RawConnection

CONCURRENCY = 100


class Pipeline:
    """``total`` requests through ``CONCURRENCY`` reply slots."""

    def __init__(self, nc: RawConnection, subject: str, size: int, inbox: bytes) -> None:
        self.nc = nc
        self.subject = subject.encode()
        self.size = size
        self.inbox = inbox
        self.loop = asyncio.get_running_loop()
        self.left = [0] * CONCURRENCY
        self.expected: list[bytes] = [b""] * CONCURRENCY
        self.outstanding = 0
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.bad: list[str] = []

    def _send(self, slot: int) -> None:
        self.left[slot] -= 1
        body = (b"%d.%d." % (slot, self.left[slot])).ljust(self.size, b"x")
        self.expected[slot] = body
        out = self.nc.out
        out += b"PUB %b %b.%d %d\r\n" % (self.subject, self.inbox, slot, len(body))
        out += body
        out += b"\r\n"
        if not self.nc.scheduled:
            self.nc.scheduled = True
            self.loop.call_soon(self.nc._write)

    def on_reply(self, subject: bytes, reply: bytes | None, payload: bytes) -> None:
        slot = int(subject[subject.rfind(b".") + 1 :])
        if payload != self.expected[slot]:
            self.bad.append(f"slot {slot}: {payload[:40]!r} != {self.expected[slot][:40]!r}")
        if self.left[slot]:
            self._send(slot)
            return
        self.outstanding -= 1
        if not self.outstanding and not self.done.done():
            self.done.set_result(None)

    async def run(self, total: int) -> None:
        self.done = self.loop.create_future()
        counts = shares(total, CONCURRENCY)
        self.outstanding = sum(1 for c in counts if c)
        for slot, count in enumerate(counts):
            self.left[slot] = count
            if count:
                self._send(slot)
        if self.outstanding:
            await wait(self.done, timeout_for(total, 2_000.0), f"{total} replies")
        if self.bad:
            raise RuntimeError(f"{len(self.bad)} bad replies, first: {self.bad[0]}")


async def call(url: str, subject: str, size: int, n: int, warmup: int) -> dict[str, Any]:
    nc = await RawConnection.connect(url)
    inbox = b"_INBOX." + os.urandom(8).hex().encode()
    pipeline = Pipeline(nc, subject, size, inbox)
    nc.subscribe(inbox.decode() + ".*", pipeline.on_reply)
    await nc.flush()
    await pipeline.run(warmup)
    t0 = now()
    await pipeline.run(n)
    elapsed = now() - t0
    await nc.flush()
    nc.close()
    if nc.errors:
        raise RuntimeError(f"server reported {nc.errors[:3]}")
    return {"rate": n / elapsed}


async def run_caller(url: str, subject: str, size: int, n: int, warmup: int) -> float:
    """Run this caller as a process against ``subject``; its timed rate in req/s."""
    caller = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.svccaller",
        *("--url", url, "--subject", subject),
        *("--size", str(size), "--n", str(n), "--warmup", str(warmup)),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await wait(caller.communicate(), timeout_for(n, 2_000.0), "the caller")
    result = json.loads(out.decode().strip().splitlines()[-1])
    if "error" in result:
        raise RuntimeError(f"caller: {result['error']}")
    return float(result["rate"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=0)
    args = parser.parse_args()
    try:
        import uvloop  # noqa: F401

        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"
    try:
        result = run(
            lambda: call(args.url, args.subject, args.size, args.n, args.warmup), loop_name
        )
    except BaseException as exc:  # report anything, then fail
        emit({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
