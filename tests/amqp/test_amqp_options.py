"""``connect()``'s settings: one :class:`AmqpOptions`, from keywords, the config block or
given whole."""

from __future__ import annotations

import pytest

from natswire import amqp
from natswire.amqp.options import LASTING_PULL_EXPIRES, SHORT_PULL_EXPIRES, pull_expires_for
from natswire.server import NatsServer


def test_keywords_split_into_adapter_options_and_client_options() -> None:
    mine, rest = amqp.AmqpOptions.split(
        {"namespace": None, "max_channels": 7, "connect_timeout": 2.0, "name": "svc"}
    )
    assert mine == {"max_channels": 7}
    assert rest == {"connect_timeout": 2.0, "name": "svc"}


def test_the_config_block_gives_options_and_keywords_win() -> None:
    block = {"host": "nats", "port": 4222, "namespace": "wire", "max_channels": 5}
    options = amqp.AmqpOptions.from_config(block, max_channels=9)
    assert (options.namespace, options.max_channels) == ("wire", 9)
    assert options.subject_map == amqp.SubjectMap.wire("wire")


def test_options_are_checked_and_frozen() -> None:
    with pytest.raises(ValueError, match="max_channels"):
        amqp.AmqpOptions(max_channels=0)
    with pytest.raises(ValueError, match="namespace"):
        amqp.AmqpOptions(namespace="a", subjects=amqp.SubjectMap.wire("b"))
    options = amqp.AmqpOptions(namespace="a")
    with pytest.raises(AttributeError):
        options.namespace = "b"  # type: ignore[misc]
    assert options.with_changes(ack_wait=5.0).ack_wait == 5.0 and options.ack_wait == 30.0


async def test_connect_takes_the_config_block_keywords_or_an_options_object(
    server: NatsServer, namespace: str
) -> None:
    host, port = server.url.removeprefix("nats://").rsplit(":", 1)
    block = {"host": host, "port": int(port), "namespace": namespace}
    conn = await amqp.connect({"nats": block}, max_channels=1, environ={})
    try:
        assert conn.stream == amqp.stream_name(namespace)
        assert conn.options.max_channels == 1 and conn.max_channels == 1
    finally:
        await conn.close()
    given = amqp.AmqpOptions(namespace=namespace, max_channels=2, pull_expires=3.0)
    conn = await amqp.connect(servers=server.url, options=given, max_channels=3)
    try:
        # Only what was left to the server is filled in (queue state: a single server).
        assert conn.options == given.with_changes(max_channels=3, queue_state="memory")
        assert len([await conn.channel() for _ in range(3)]) == 3
        with pytest.raises(amqp.TooManyChannelsError):
            await conn.channel()
    finally:
        await conn.close()


def test_pull_requests_wait_long_unless_nothing_would_report_their_loss() -> None:
    # Streams with one replica on a cluster: no leader election, so no advisory, when the
    # node holding a consumer restarts while this client stays connected elsewhere.
    assert pull_expires_for(clustered=True, replicas=1) == SHORT_PULL_EXPIRES
    assert pull_expires_for(clustered=True, replicas=3) == LASTING_PULL_EXPIRES
    assert pull_expires_for(clustered=False, replicas=1) == LASTING_PULL_EXPIRES
    assert SHORT_PULL_EXPIRES < LASTING_PULL_EXPIRES
    assert amqp.AmqpOptions().pull_expires is None  # decided at connect
