"""The responder for the request-reply workloads: one process, the same for every row.

``python -m benchmarks.responder --url URL`` subscribes to ``bench.req`` with the raw
client (rawclient.RawConnection, on uvloop when installed, so it costs the CPU as little as
possible), echoes every request's payload to its reply subject, prints ``READY`` once the
subscription is in place and runs until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from .common import REQ_SUBJECT, run
from .rawclient import RawConnection


async def serve(url: str) -> None:
    nc = await RawConnection.connect(url)
    loop = asyncio.get_running_loop()
    nc.subscribe(REQ_SUBJECT, nc.echo)
    await nc.flush()
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    # run until the runner closes our stdin
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()
    nc.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    try:
        import uvloop  # noqa: F401

        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"
    run(lambda: serve(args.url), loop_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
