"""Refusals of the NATS server (limits, storage, JetStream unavailable) reach the
application as AMQP channel errors: an :class:`AmqpAdapterError` with a reply code and
text, the channel closed, ``on_channel_exception`` called."""

from __future__ import annotations

from typing import Any

import pytest
from support import AmqpConnect, eventually

import natswire
from natswire import amqp
from natswire.jetstream.api import DiscardPolicy, RetentionPolicy


async def _stream_with_limits(nc: natswire.Client, namespace: str, **limits: Any) -> None:
    """The adapter's message stream, created beforehand with ``limits`` (the adapter
    accepts an existing stream)."""
    await nc.jetstream().add_stream(
        name=amqp.stream_name(namespace),
        subjects=amqp.SubjectMap.wire(namespace).stream_subjects(),
        retention=RetentionPolicy.INTEREST,
        **limits,
    )


async def test_the_consumer_limit_is_a_resource_error(
    nc: natswire.Client, namespace: str, amqp_connect: AmqpConnect
) -> None:
    await _stream_with_limits(nc, namespace, max_consumers=2)
    reported: list[tuple[amqp.Channel, BaseException]] = []
    conn = await amqp_connect(on_channel_exception=lambda ch, exc: reported.append((ch, exc)))
    ch = await conn.channel()
    await ch.queue_declare("q1")
    await ch.queue_declare("q2")
    with pytest.raises(amqp.ResourceLimitError) as info:
        await ch.queue_declare("q3")
    error = info.value
    assert isinstance(error, amqp.AmqpAdapterError) and isinstance(error, amqp.ChannelError)
    assert error.reply_code == 506
    assert "maximum consumers limit reached" in error.reply_text
    assert error.err_code == 10026
    assert ch.is_closed
    await eventually(lambda: reported == [(ch, error)], what="on_channel_exception")
    with pytest.raises(amqp.ChannelClosedError):
        await ch.queue_declare("q4")


async def test_a_full_stream_refuses_a_confirmed_publish(
    nc: natswire.Client, namespace: str, amqp_connect: AmqpConnect
) -> None:
    await _stream_with_limits(nc, namespace, max_msgs=1, discard=DiscardPolicy.NEW)
    reported: list[BaseException] = []
    conn = await amqp_connect(on_channel_exception=lambda ch, exc: reported.append(exc))
    ch = await conn.channel()
    await ch.queue_declare("kept")  # nobody consumes: the first message stays
    await ch.basic_publish("", "kept", b"1")
    with pytest.raises(amqp.ResourceLimitError) as info:
        await ch.basic_publish("", "kept", b"2")
    assert info.value.reply_code == 506
    assert "maximum messages" in info.value.reply_text
    assert ch.is_closed
    await eventually(lambda: reported == [info.value], what="on_channel_exception")


async def test_no_stream_is_service_unavailable(amqp_connect: AmqpConnect) -> None:
    reported: list[BaseException] = []
    conn = await amqp_connect(on_channel_exception=lambda ch, exc: reported.append(exc))
    ch = await conn.channel()
    await ch.queue_declare("orphan")
    await conn.js.delete_stream(conn.stream)  # nobody answers for the subject now
    with pytest.raises(amqp.ServerUnavailableError) as info:
        await ch.basic_publish("", "orphan", b"x")
    assert info.value.reply_code == 503
    assert info.value.reply_text.startswith("SERVICE_UNAVAILABLE - ")
    assert ch.is_closed
    await eventually(lambda: reported == [info.value], what="on_channel_exception")
    other = await conn.channel()
    with pytest.raises(amqp.ServerRefusedError):
        await other.queue_declare("after")  # the stream is gone: refused as well
    assert other.is_closed
