"""A fetch after one that timed out (or was cancelled) does not wait for the request
the earlier one left on the server (issue 20, "orphaned pull request")."""

from __future__ import annotations

import asyncio
import time

import pytest

from natswire import errors
from natswire.jetstream import JetStreamContext

pytestmark = pytest.mark.timeout(30)


async def _publish_soon(js: JetStreamContext, subject: str) -> None:
    await asyncio.sleep(0.2)
    await js.publish(subject, b"x")


@pytest.mark.parametrize("ended", ["timed-out", "cancelled"])
async def test_the_next_fetch_gets_a_new_message_at_once(
    js: JetStreamContext, stream: str, ended: str
) -> None:
    psub = await js.pull_subscribe(f"{stream}.o", durable="orphan")
    for _ in range(3):
        if ended == "timed-out":
            with pytest.raises(errors.TimeoutError):
                await psub.fetch(1, timeout=0.5)
        else:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(psub.fetch(1, timeout=3), 0.2)
        publisher = asyncio.ensure_future(_publish_soon(js, f"{stream}.o"))
        started = time.monotonic()
        msgs = await psub.fetch(1, timeout=5)
        assert time.monotonic() - started < 1.0
        assert [m.data for m in msgs] == [b"x"]
        await msgs[0].ack()
        await publisher
