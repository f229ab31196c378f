"""Bytes each pending message takes above its payload, by ``tracemalloc``.

``python -m benchmarks.memtrace --url URL [--client natswire|nats-py|raw] [--n N]
[--size B]`` subscribes without a callback (raw: a callback that keeps every message in
a deque), lets :mod:`benchmarks.sender` publish N messages of B bytes, waits until all
are pending, and prints the traced memory grown per message minus B. Run it from the
checkout whose natswire it should measure (the working directory comes first on the
path). Complements the runner's memory row, which reads the peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tracemalloc
from collections import deque
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.getcwd())

SUBJECT = "bench.memtrace"


async def _subscribe(client: str, url: str) -> tuple[Any, Callable[[], int]]:
    """A connection with a subscription on SUBJECT, and how many messages it holds."""
    if client == "natswire":
        import natswire

        nc: Any = await natswire.connect(url)
        sub = await nc.subscribe(SUBJECT, pending_msgs_limit=-1, pending_bytes_limit=-1)
        await nc.flush()
        return nc, lambda: sub.pending_msgs
    if client == "nats-py":
        import nats

        nc = await nats.connect(url)
        py_sub = await nc.subscribe(SUBJECT, pending_msgs_limit=10**7, pending_bytes_limit=10**11)
        await nc.flush()
        return nc, lambda: py_sub.pending_msgs
    from .rawclient import RawConnection

    raw = await RawConnection.connect(url)
    kept: deque[tuple[bytes, bytes | None, bytes]] = deque()
    raw.subscribe(SUBJECT, lambda subject, reply, data: kept.append((subject, reply, data)))
    await raw.flush()
    return raw, lambda: len(kept)


async def measure(client: str, url: str, n: int, size: int) -> float:
    nc, pending = await _subscribe(client, url)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    sender = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.sender", "--url", url, "--subject", SUBJECT,
        "--size", str(size), "--count", str(n),
    )  # fmt: skip
    while pending() < n:
        await asyncio.sleep(0.005)
    await sender.wait()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    close = nc.close()
    if asyncio.iscoroutine(close):
        await close
    return grown / n - size


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--client", choices=("natswire", "nats-py", "raw"), default="natswire")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    above = asyncio.run(measure(args.client, args.url, args.n, args.size))
    print(f"{args.client}: {above:.1f} B per pending message above its {args.size} B payload")
    return 0


if __name__ == "__main__":
    sys.exit(main())
