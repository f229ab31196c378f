"""Atomic batch publish (nats-server 2.12, ADR-50) against nats-server: a batch is
stored whole at its commit or not at all, and nats-py reads what was stored."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import nats.js.api
import pytest

from natswire import Message, errors
from natswire.jetstream import BatchPublisher, JetStreamContext, publish_msg_batch
from natswire.jetstream.api import Header

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def atomic(js: JetStreamContext, name: str) -> AsyncIterator[str]:
    """A stream ``name`` on ``<name>.>`` that allows atomic batches."""
    await js.add_stream(name=name, subjects=[f"{name}.>"], allow_atomic=True)
    yield name
    with contextlib.suppress(errors.NatsWireError):
        await js.delete_stream(name)


async def stored(js: JetStreamContext, stream: str) -> int:
    return (await js.stream_info(stream)).state.messages


async def test_a_batch_is_stored_at_its_commit(
    js: JetStreamContext, peer: Any, atomic: str
) -> None:
    batch = BatchPublisher(js)
    await batch.add(f"{atomic}.a", b"one")
    await batch.add(f"{atomic}.b", b"two", headers={"Trace": "t"})
    assert batch.size == 2
    assert await stored(js, atomic) == 0  # held by the server until the commit
    ack = await batch.commit(f"{atomic}.c", b"three")
    assert (ack.stream, ack.seq) == (atomic, 3)
    assert (ack.batch_id, ack.batch_size) == (batch.batch_id, 3)
    assert ack.as_dict()["batch"] == batch.batch_id and ack.as_dict()["count"] == 3
    assert batch.is_closed
    with pytest.raises(errors.BatchClosedError):
        await batch.add(f"{atomic}.d", b"late")
    assert await stored(js, atomic) == 3

    # nats-py reads the batch in order, with its headers.
    psub = await peer.jetstream().pull_subscribe(f"{atomic}.>", stream=atomic)
    msgs = await psub.fetch(3, timeout=2)
    assert [m.data for m in msgs] == [b"one", b"two", b"three"]
    assert {m.headers[nats.js.api.Header.BATCH_ID] for m in msgs} == {batch.batch_id}
    assert [m.headers[nats.js.api.Header.BATCH_SEQUENCE] for m in msgs] == ["1", "2", "3"]
    assert msgs[1].headers["Trace"] == "t"
    assert msgs[2].headers[nats.js.api.Header.BATCH_COMMIT] == "1"
    theirs = nats.js.api.PubAck.from_response(ack.as_dict())
    assert (theirs.batch_id, theirs.batch_size) == (ack.batch_id, ack.batch_size)


async def test_a_discarded_batch_stores_nothing(js: JetStreamContext, atomic: str) -> None:
    batch = BatchPublisher(js, ack_every=1)
    await batch.add(f"{atomic}.a", b"one")
    await batch.add(f"{atomic}.b", b"two")
    batch.discard()
    with pytest.raises(errors.BatchClosedError):
        batch.discard()
    with pytest.raises(errors.BatchClosedError):
        await batch.commit(f"{atomic}.c", b"three")
    assert await stored(js, atomic) == 0
    # The next batch is unaffected.
    ack = await BatchPublisher(js).commit(f"{atomic}.d", b"alone")
    assert (ack.seq, ack.batch_size) == (1, 1)


async def test_a_failed_expectation_refuses_the_whole_batch(
    js: JetStreamContext, atomic: str
) -> None:
    await js.publish(f"{atomic}.before", b"0")
    batch = BatchPublisher(js)
    await batch.add(f"{atomic}.a", b"one")
    await batch.add(f"{atomic}.b", b"two", {Header.EXPECTED_LAST_SEQUENCE.value: "99"})
    with pytest.raises(errors.APIError) as caught:
        await batch.commit(f"{atomic}.c", b"three")
    assert caught.value.code == 400
    assert batch.is_closed
    assert await stored(js, atomic) == 1


async def test_close_commits_with_an_end_of_batch_marker(js: JetStreamContext, atomic: str) -> None:
    batch = BatchPublisher(js)
    with pytest.raises(errors.EmptyBatchError):
        await batch.close()
    await batch.add(f"{atomic}.a", b"one")
    await batch.add(f"{atomic}.b", b"two")
    ack = await batch.close()
    assert (ack.seq, ack.batch_id, ack.batch_size) == (2, batch.batch_id, 2)
    assert await stored(js, atomic) == 2  # the marker itself is not stored
    last = await js.get_msg(atomic, 2)
    assert last.headers is not None and last.headers[Header.BATCH_COMMIT.value] == "1"


async def test_publish_msg_batch(js: JetStreamContext, atomic: str) -> None:
    msgs = [Message(f"{atomic}.{i}", b"%d" % i, headers={"N": str(i)}) for i in range(5)]
    ack = await publish_msg_batch(js, msgs, ack_every=2)
    assert (ack.seq, ack.batch_size) == (5, 5)
    assert [(await js.get_msg(atomic, i + 1)).data for i in range(5)] == [m.data for m in msgs]
    with pytest.raises(ValueError):
        await publish_msg_batch(js, [])


async def test_a_stream_without_allow_atomic_refuses_at_the_first_message(
    js: JetStreamContext, stream: str
) -> None:
    batch = BatchPublisher(js)
    with pytest.raises(errors.APIError) as caught:
        await batch.add(f"{stream}.a", b"one")
    assert (caught.value.code, caught.value.err_code) == (400, 10174)
    assert "atomic publish is disabled" in caught.value.description


class _AnsweringClient:
    """A client whose every request is answered with ``answer``."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.headers: list[dict[str, str]] = []

    async def request(self, subject: str, payload: bytes, timeout: float, headers: Any) -> Message:
        self.headers.append(dict(headers))
        return Message(subject, self.answer)


class _Context:
    def __init__(self, client: _AnsweringClient) -> None:
        self.client = client
        self.timeout = 1.0


async def test_a_commit_answered_for_another_batch_is_refused() -> None:
    client = _AnsweringClient(b'{"stream": "S", "seq": 1, "batch": "other", "count": 1}')
    batch = BatchPublisher(_Context(client))  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidBatchAckError):
        await batch.commit("s.a", b"x", headers={Header.BATCH_COMMIT.value: "0"})
    assert client.headers == [
        {
            Header.BATCH_ID.value: batch.batch_id,
            Header.BATCH_SEQUENCE.value: "1",
            Header.BATCH_COMMIT.value: "1",
        }
    ]
    # The right batch, but a count other than the messages sent.
    second = BatchPublisher(_Context(client))  # type: ignore[arg-type]
    client.answer = (
        b'{"stream": "S", "seq": 1, "batch": "%s", "count": 2}' % second.batch_id.encode()
    )
    with pytest.raises(errors.InvalidBatchAckError):
        await second.commit("s.a")
    assert second.is_closed
