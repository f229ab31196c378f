"""JetStream pieces that need no server: ack-subject metadata, configurations and
their wire form, API error mapping, advisories."""

from __future__ import annotations

import datetime
import json

import pytest

import natswire
from natswire import errors
from natswire.jetstream import (
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamInfo,
    parse_advisory,
    parse_metadata,
)
from natswire.jetstream.errors import api_error

TS_NS = 1_700_000_000_123_456_789


def test_metadata_v1_layout() -> None:
    meta = parse_metadata(f"$JS.ACK.ORDERS.worker.3.1042.17.{TS_NS}.5")
    assert meta.stream == "ORDERS"
    assert meta.consumer == "worker"
    assert meta.num_delivered == 3
    assert meta.sequence.stream == 1042
    assert meta.sequence.consumer == 17
    assert meta.num_pending == 5
    assert meta.domain is None
    assert meta.account_hash is None
    assert meta.timestamp_ns == TS_NS
    assert meta.timestamp == datetime.datetime(
        2023, 11, 14, 22, 13, 20, 123457, tzinfo=datetime.timezone.utc
    )


def test_metadata_v2_layout_with_domain_and_account_hash() -> None:
    meta = parse_metadata(f"$JS.ACK.hub.ACCHASH1.ORDERS.worker.2.99.7.{TS_NS}.0.r4nd0m")
    assert (meta.domain, meta.account_hash) == ("hub", "ACCHASH1")
    assert (meta.stream, meta.consumer) == ("ORDERS", "worker")
    assert (meta.num_delivered, meta.sequence.stream, meta.sequence.consumer) == (2, 99, 7)
    assert meta.num_pending == 0
    assert meta.timestamp_ns == TS_NS


def test_metadata_v2_without_domain_and_with_future_tokens() -> None:
    meta = parse_metadata(f"$JS.ACK._.H.S.C.1.2.3.{TS_NS}.4.tok.extra.more")
    assert meta.domain is None
    assert (meta.stream, meta.consumer, meta.sequence.stream, meta.num_pending) == (
        "S",
        "C",
        2,
        4,
    )


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "_INBOX.abc",
        "$JS.ACK.S.C.1.2.3.4",  # 8 tokens
        "$JS.ACK.D.H.S.C.1.2.3.4.5",  # 11 tokens
        "$JS.NAK.S.C.1.2.3.4.5",
        "$JS.ACK.S.C.one.2.3.4.5",
        "$JS.ACK..C.1.2.3.4.5",
    ],
)
def test_metadata_rejects_what_is_not_an_ack_subject(reply: str) -> None:
    with pytest.raises(errors.NotJSMessageError):
        parse_metadata(reply)


async def test_message_metadata_and_settling_without_a_connection() -> None:
    from natswire.jetstream import JetStreamMessage

    nc = natswire.Client()
    msg = JetStreamMessage(nc, "orders.new", b"x", f"$JS.ACK.S.C.1.2.3.{TS_NS}.4")
    assert msg.metadata.sequence.stream == 2
    assert isinstance(msg, natswire.Message)
    plain = JetStreamMessage(nc, "orders.new", b"x", None)
    with pytest.raises(errors.NotJSMessageError):
        _ = plain.metadata
    for settle in (plain.ack, plain.nak, plain.term, plain.in_progress, plain.ack_sync):
        with pytest.raises(errors.NotJSMessageError, match="no JetStream reply subject"):
            await settle()
    assert not plain.is_acked


def test_stream_config_wire_form_uses_nanoseconds_and_enum_values() -> None:
    cfg = StreamConfig(
        name="S",
        subjects=["a.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.MEMORY,
        max_age=1.5,
        duplicate_window=120,
        max_msgs=10,
    )
    wire = cfg.as_request()
    assert wire == {
        "name": "S",
        "subjects": ["a.>"],
        "retention": "workqueue",
        "storage": "memory",
        "max_age": 1_500_000_000,
        "duplicate_window": 120_000_000_000,
        "max_msgs": 10,
    }
    json.dumps(wire)


def test_config_round_trip_keeps_unknown_server_fields() -> None:
    from_server = {
        "name": "S",
        "subjects": ["a"],
        "retention": "limits",
        "storage": "file",
        "max_age": 0,
        "duplicate_window": 120_000_000_000,
        "some_future_field": {"x": [1, 2]},
        "discard": "brand-new-policy",
    }
    cfg = StreamConfig.from_response(from_server)
    assert cfg.retention is RetentionPolicy.LIMITS
    assert cfg.duplicate_window == 120.0
    assert cfg.extra == {"some_future_field": {"x": [1, 2]}}
    assert cfg.discard == "brand-new-policy"  # unknown enum value kept as is
    assert cfg.as_request() == from_server
    changed = cfg.evolve(max_msgs=5)
    assert changed.as_request()["some_future_field"] == {"x": [1, 2]}
    assert changed.max_msgs == 5 and cfg.max_msgs is None
    with pytest.raises(TypeError):
        cfg.evolve(no_such_field=1)


def test_consumer_config_durations_and_backoff() -> None:
    cfg = ConsumerConfig(durable_name="d", ack_wait=0.5, backoff=[1, 2.5], inactive_threshold=60)
    wire = cfg.as_request()
    assert wire["ack_wait"] == 500_000_000
    assert wire["backoff"] == [1_000_000_000, 2_500_000_000]
    assert wire["inactive_threshold"] == 60_000_000_000
    assert wire["ack_policy"] == "explicit"
    back = ConsumerConfig.from_response(wire)
    assert back.backoff == [1.0, 2.5]
    assert back.ack_wait == 0.5
    assert back.ack_policy is AckPolicy.EXPLICIT


def test_info_objects_parse_nested_answers() -> None:
    info = StreamInfo.from_response(
        {
            "config": {"name": "S", "subjects": ["s"], "max_age": 2_000_000_000},
            "state": {
                "messages": 3,
                "bytes": 30,
                "first_seq": 1,
                "last_seq": 3,
                "consumer_count": 1,
                "new_state_field": 1,
            },
            "created": "2024-01-01T00:00:00Z",
            "cluster": {"leader": "n1", "replicas": [{"name": "n2", "current": True}]},
        }
    )
    assert info.config.max_age == 2.0
    assert info.state.last_seq == 3
    assert info.state.extra == {"new_state_field": 1}
    assert info.cluster is not None and info.cluster.replicas is not None
    assert info.cluster.replicas[0].name == "n2"
    cinfo = ConsumerInfo.from_response(
        {
            "name": "c",
            "stream_name": "S",
            "config": {"ack_wait": 30_000_000_000},
            "delivered": {"consumer_seq": 4, "stream_seq": 9},
            "num_pending": 2,
        }
    )
    assert cinfo.config.ack_wait == 30.0
    assert cinfo.delivered is not None and cinfo.delivered.stream_seq == 9


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        (
            {"code": 404, "err_code": 10059, "description": "stream not found"},
            errors.StreamNotFoundError,
        ),
        (
            {"code": 404, "err_code": 10014, "description": "consumer not found"},
            errors.ConsumerNotFoundError,
        ),
        ({"code": 404, "err_code": 99999, "description": "other"}, errors.NotFoundError),
        (
            {"code": 400, "err_code": 10071, "description": "wrong last sequence: 1"},
            errors.WrongLastSequenceError,
        ),
        (
            {"code": 400, "err_code": 10070, "description": "wrong last msg ID: a"},
            errors.WrongLastMsgIdError,
        ),
        (
            {"code": 400, "err_code": 10060, "description": "expected stream does not match"},
            errors.WrongExpectedStreamError,
        ),
        ({"code": 400, "err_code": 1, "description": "bad"}, errors.BadRequestError),
        (
            {"code": 503, "err_code": 10008, "description": "unavailable"},
            errors.ServiceUnavailableError,
        ),
        ({"code": 500, "err_code": 1, "description": "boom"}, errors.JetStreamServerError),
        ({"code": 418, "description": "teapot"}, errors.APIError),
    ],
)
def test_api_errors_map_to_subclasses(error: dict[str, object], cls: type) -> None:
    exc = api_error(error)
    assert type(exc) is cls
    assert isinstance(exc, errors.APIError) and isinstance(exc, errors.JetStreamError)
    assert isinstance(exc, errors.NatsWireError)
    assert exc.code == error["code"]
    assert exc.description == error["description"]
    assert str(error["description"]) in str(exc)


def test_no_heartbeat_error_is_a_timeout() -> None:
    assert issubclass(errors.NoHeartbeatError, errors.TimeoutError)
    assert issubclass(errors.NoHeartbeatError, TimeoutError)
    assert issubclass(errors.NoHeartbeatError, errors.JetStreamError)


def test_parse_advisories() -> None:
    max_deliver = parse_advisory(
        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.C",
        json.dumps(
            {
                "type": "io.nats.jetstream.advisory.v1.max_deliver",
                "stream": "S",
                "consumer": "C",
                "stream_seq": 7,
                "deliveries": 3,
            }
        ).encode(),
    )
    assert max_deliver is not None
    assert (max_deliver.stream_seq, max_deliver.deliveries, max_deliver.reason) == (
        7,
        3,
        "max_deliveries",
    )
    terminated = parse_advisory(
        "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.C",
        json.dumps(
            {"stream": "S", "consumer": "C", "stream_seq": 8, "deliveries": 1, "reason": "poison"}
        ).encode(),
    )
    assert terminated is not None
    assert (terminated.stream_seq, terminated.reason, terminated.description) == (
        8,
        "terminated",
        "poison",
    )
    assert parse_advisory("$JS.EVENT.ADVISORY.CONSUMER.CREATED.S.C", b"{}") is None
    assert parse_advisory("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.C", b"nope") is None


def test_facade() -> None:
    nc = natswire.connect  # the top-level connect builds the JetStream-aware client
    assert nc is not natswire.client.connect
    assert issubclass(natswire.Client, natswire.client.Client)
    assert natswire.NATS is natswire.Client
    client = natswire.Client()
    js = client.jetstream(domain="hub")
    assert js.prefix == "$JS.hub.API"
    assert client.jsm().prefix == "$JS.API"
    assert client.jetstream(prefix="$JS.other.API.").prefix == "$JS.other.API"
