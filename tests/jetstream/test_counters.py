"""Message counters (nats-server 2.12, ADR-49) against nats-server: adds answered with
the new value, reads of one or many counters, sourced counters adding up, and nats-py
adding to and reading the same counters."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import nats.js.api
import pytest
from support import eventually

from natswire import errors
from natswire.jetstream import (
    Counter,
    CounterEntry,
    CounterValue,
    JetStreamContext,
    counter_from_stream,
    get_counter,
)
from natswire.jetstream.api import Header, StreamSource, SubjectTransform

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def counters(js: JetStreamContext, name: str) -> AsyncIterator[str]:
    """A counter stream ``<name>N`` on ``<name>N.>``."""
    counters = f"{name}N"
    await js.add_stream(
        name=counters, subjects=[f"{counters}.>"], allow_msg_counter=True, allow_direct=True
    )
    yield counters
    with contextlib.suppress(errors.NatsWireError):
        await js.delete_stream(counters)


async def test_add_and_load(js: JetStreamContext, peer: Any, counters: str) -> None:
    counter = await get_counter(js, counters)
    hits = f"{counters}.hits"
    assert await counter.add(hits, 5) == 5
    assert await counter.increment(hits) == 6
    assert await counter.decrement(hits) == 5
    assert await counter.add(hits, -7) == -2
    assert await counter.add(hits, 2**70) == 2**70 - 2  # any size, as the server's big.Int
    assert await counter.load(hits) == CounterValue(val=2**70 - 2, subject=hits)
    entry = await counter.get_entry(hits)
    assert entry == CounterEntry(subject=hits, value=2**70 - 2, sources={}, incr=2**70)

    # nats-py adds through a plain publish and reads the value in its ack.
    ack = await peer.jetstream().publish(hits, b"", headers={nats.js.api.Header.INCR: "+2"})
    assert ack.val == str(2**70)
    assert (await counter.load(hits)).val == 2**70
    # A natswire publish with the header gets the value in its ack too.
    mine = await js.publish(hits, headers={Header.INCR.value: "-1"})
    assert mine.val == str(2**70 - 1)
    raw = await peer.jetstream().get_last_msg(counters, hits)
    assert raw.data == b'{"val":"%d"}' % (2**70 - 1)


async def test_several_counters_at_once(js: JetStreamContext, counters: str) -> None:
    counter = await get_counter(js, counters)
    for page, count in (("home", 3), ("about", 1), ("shop", 2)):
        await counter.add(f"{counters}.page.{page}", count)
    await counter.add(f"{counters}.other", 9)
    values = await counter.load_multiple([f"{counters}.page.*"])
    assert sorted((v.subject, v.val) for v in values) == [
        (f"{counters}.page.about", 1),
        (f"{counters}.page.home", 3),
        (f"{counters}.page.shop", 2),
    ]
    entries = await counter.get_entries([f"{counters}.page.home", f"{counters}.other"])
    assert sorted((e.subject, e.value, e.incr) for e in entries) == [
        (f"{counters}.other", 9, 9),
        (f"{counters}.page.home", 3, 3),
    ]
    assert await counter.load_multiple([f"{counters}.never.*"]) == []


async def test_what_is_not_a_counter_is_refused(
    js: JetStreamContext, stream: str, counters: str
) -> None:
    with pytest.raises(errors.CounterNotFoundError):
        await get_counter(js, "NO_SUCH_STREAM")
    with pytest.raises(errors.CounterNotEnabledError):
        await get_counter(js, stream)
    info = await js.stream_info(counters)
    with pytest.raises(errors.DirectAccessRequiredError):
        counter_from_stream(js, info.evolve(config=info.config.evolve(allow_direct=False)))
    counter = counter_from_stream(js, info)
    with pytest.raises(errors.NoCounterForSubjectError):
        await counter.load(f"{counters}.never")
    with pytest.raises(errors.InvalidCounterValueError):
        await counter.add(f"{counters}.x", 1.5)  # type: ignore[arg-type]
    # The server refuses a message without an increment on a counter stream.
    with pytest.raises(errors.APIError) as caught:
        await js.publish(f"{counters}.x", b"plain")
    assert caught.value.err_code == 10169


async def test_a_sourcing_counter_adds_its_sources_up(js: JetStreamContext, name: str) -> None:
    regions = [f"{name}EU", f"{name}US"]
    total = f"{name}ALL"
    try:
        for region in regions:
            await js.add_stream(
                name=region, subjects=[f"{region}.>"], allow_msg_counter=True, allow_direct=True
            )
        sources = [
            StreamSource(
                name=region,
                subject_transforms=[SubjectTransform(src=f"{region}.hits", dest="hits")],
            )
            for region in regions
        ]
        await js.add_stream(name=total, sources=sources, allow_msg_counter=True, allow_direct=True)
        eu, us = (Counter(js, region) for region in regions)
        await eu.add(f"{regions[0]}.hits", 3)
        await us.add(f"{regions[1]}.hits", 4)
        await eu.add(f"{regions[0]}.hits", 10)
        aggregate = await get_counter(js, total)

        async def summed() -> bool:
            with contextlib.suppress(errors.NoCounterForSubjectError):
                return (await aggregate.load("hits")).val == 17
            return False

        await eventually(summed, 10, interval=0.1, what="the sources added up")
        entry = await aggregate.get_entry("hits")
        assert entry.value == 17
        assert entry.sources == {
            regions[0]: {f"{regions[0]}.hits": 13},
            regions[1]: {f"{regions[1]}.hits": 4},
        }
    finally:
        for stream in (total, *regions):
            with contextlib.suppress(errors.NatsWireError):
                await js.delete_stream(stream)
