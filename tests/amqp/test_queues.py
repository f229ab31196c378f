"""Queue arguments, bindings and the stored queue description (no server)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from natswire.amqp.errors import NotAllowedError, PreconditionFailedError
from natswire.amqp.names import SubjectMap
from natswire.amqp.queues import (
    MD_ARGS,
    MD_BINDINGS,
    MD_FLAGS,
    MD_OWNER,
    MD_QUEUE,
    SUPPORTED_ARGUMENTS,
    Binding,
    QueueDeclareOk,
    QueueSpec,
    normalize_arguments,
)
from natswire.jetstream.api import ConsumerConfig, ConsumerInfo

# ------------------------------------------------------------------- normalize_arguments


def test_no_arguments_normalize_to_an_empty_dict() -> None:
    assert normalize_arguments(None) == {}
    assert normalize_arguments({}) == {}


def test_supported_arguments_pass_unchanged_in_a_new_dict() -> None:
    arguments = {
        "x-dead-letter-exchange": "dlx",
        "x-dead-letter-routing-key": "dead",
        "x-message-ttl": 0,
        "x-single-active-consumer": False,
        "x-delivery-limit": 0,
        "x-queue-type": "quorum",
    }
    out = normalize_arguments(arguments)
    assert out == arguments and out is not arguments
    assert normalize_arguments({"x-max-delivery": 1, "x-queue-type": "classic"}) == {
        "x-max-delivery": 1,
        "x-queue-type": "classic",
    }


def test_an_unsupported_argument_is_not_allowed_and_the_supported_are_listed() -> None:
    with pytest.raises(NotAllowedError) as caught:
        normalize_arguments({"x-max-length": 10})
    message = str(caught.value)
    assert "'x-max-length' is not supported by the NATS adapter" in message
    assert ", ".join(sorted(SUPPORTED_ARGUMENTS)) in message


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"x-dead-letter-exchange": 1}, "x-dead-letter-exchange must be a string, got 1"),
        (
            {"x-dead-letter-exchange": "d", "x-dead-letter-routing-key": None},
            "x-dead-letter-routing-key must be a string, got None",
        ),
        ({"x-message-ttl": -1}, "x-message-ttl must be an int >= 0, got -1"),
        ({"x-message-ttl": True}, "x-message-ttl must be an int >= 0, got True"),
        ({"x-message-ttl": 1.5}, "x-message-ttl must be an int >= 0, got 1.5"),
        ({"x-single-active-consumer": 1}, "x-single-active-consumer must be a bool, got 1"),
        ({"x-delivery-limit": -1}, "x-delivery-limit must be an int >= 0, got -1"),
        ({"x-delivery-limit": False}, "x-delivery-limit must be an int >= 0, got False"),
        ({"x-max-delivery": "3"}, "x-max-delivery must be an int >= 0, got '3'"),
        ({"x-max-delivery": 0}, "x-max-delivery must be at least 1"),
        (
            {"x-max-delivery": 2, "x-delivery-limit": 1},
            "give x-max-delivery or x-delivery-limit, not both",
        ),
        (
            {"x-dead-letter-routing-key": "k"},
            "x-dead-letter-routing-key needs x-dead-letter-exchange",
        ),
    ],
)
def test_bad_values_fail_the_precondition(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(PreconditionFailedError) as caught:
        normalize_arguments(arguments)
    assert str(caught.value) == message


@pytest.mark.parametrize("queue_type", ["stream", "lazy", ""])
def test_only_classic_and_quorum_queue_types_are_allowed(queue_type: str) -> None:
    with pytest.raises(NotAllowedError, match=f"x-queue-type {queue_type!r} is not supported"):
        normalize_arguments({"x-queue-type": queue_type})


# ------------------------------------------------------------------- Binding


@pytest.mark.parametrize(
    ("kind", "pattern", "key", "matches"),
    [
        ("direct", "a.b", "a.b", True),
        ("direct", "a.b", "a.c", False),
        ("direct", "a.*", "a.b", False),
        ("topic", "a.*", "a.b", True),
        ("topic", "a.*", "a.b.c", False),
        ("topic", "a.#", "a", True),
        ("topic", "#", "anything.at.all", True),
        ("fanout", "ignored", "whatever", True),
    ],
)
def test_a_binding_matches_by_its_exchange_type(
    kind: str, pattern: str, key: str, matches: bool
) -> None:
    assert Binding("x", kind, pattern, 10, True).matches("x", key, 11) is matches


def test_a_binding_matches_only_its_exchange_and_only_newer_messages() -> None:
    binding = Binding("x", "fanout", "", 10, True)
    assert binding.matches("x", "k", 11)
    assert not binding.matches("y", "k", 11)
    assert not binding.matches("x", "k", 10)


def test_a_binding_as_a_list_builds_the_same_binding() -> None:
    binding = Binding("x", "topic", "a.#", 7, False)
    assert binding.as_list() == ["x", "topic", "a.#", 7, False]
    assert Binding(*binding.as_list()) == binding


# ------------------------------------------------------------------- QueueSpec


def test_arguments_read_through_typed_properties() -> None:
    spec = QueueSpec(
        "q",
        arguments={
            "x-dead-letter-exchange": "dlx",
            "x-dead-letter-routing-key": "dead",
            "x-message-ttl": 500,
            "x-single-active-consumer": True,
        },
    )
    assert spec.dead_letter_exchange == "dlx"
    assert spec.dead_letter_routing_key == "dead"
    assert spec.message_ttl == 500
    assert spec.single_active_consumer is True
    assert spec.max_delivery is None
    empty = QueueSpec("q")
    assert (empty.dead_letter_exchange, empty.dead_letter_routing_key) == (None, None)
    assert (empty.message_ttl, empty.single_active_consumer) == (None, False)
    wrong = QueueSpec("q", arguments={"x-dead-letter-exchange": 1, "x-message-ttl": "5"})
    assert (wrong.dead_letter_exchange, wrong.message_ttl) == (None, None)


def test_max_delivery_counts_deliveries_and_the_delivery_limit_redeliveries() -> None:
    assert QueueSpec("q", arguments={"x-max-delivery": 3}).max_delivery == 3
    assert QueueSpec("q", arguments={"x-delivery-limit": 3}).max_delivery == 4
    assert QueueSpec("q", arguments={"x-delivery-limit": 0}).max_delivery == 1


def test_the_check_floor_is_the_newest_binding_and_exactness_is_all_bindings() -> None:
    assert QueueSpec("q").checks_floor == 0 and QueueSpec("q").all_exact
    spec = QueueSpec(
        "q",
        bindings=[Binding("x", "direct", "a", 4, True), Binding("y", "topic", "b.#", 9, False)],
    )
    assert spec.checks_floor == 9
    assert not spec.all_exact


def test_routes_by_the_default_exchange_after_creation_and_by_bindings() -> None:
    spec = QueueSpec("jobs", created_seq=5, bindings=[Binding("events", "topic", "job.*", 8, True)])
    assert spec.routes("", "jobs", 6)
    assert not spec.routes("", "jobs", 5)
    assert not spec.routes("", "other", 6)
    assert spec.routes("events", "job.new", 9)
    assert not spec.routes("events", "job.new", 8)
    assert not spec.routes("events", "mail.new", 9)


def test_filters_are_the_queue_subject_and_the_bindings_minimal_cover() -> None:
    subjects = SubjectMap.wire("ns")
    spec = QueueSpec(
        "jobs",
        bindings=[
            Binding("events", "topic", "a.*", 0, True),
            Binding("events", "topic", "#", 0, True),
            Binding("direct-x", "direct", "k", 0, True),
        ],
    )
    assert spec.filters(subjects) == [
        "ns.amqp.q.jobs",
        "ns.amqp.x.events.>",
        "ns.amqp.x.direct-x.k",
    ]


def _info(metadata: dict[str, str] | None) -> ConsumerInfo:
    return ConsumerInfo(name="Q-q", stream_name="S", config=ConsumerConfig(metadata=metadata))


def test_the_description_round_trips_through_consumer_metadata() -> None:
    spec = QueueSpec(
        "q",
        durable=False,
        exclusive=True,
        auto_delete=True,
        owner="conn-1",
        arguments={"x-message-ttl": 5, "x-dead-letter-exchange": "d"},
        bindings=[Binding("x", "topic", "a.#", 3, False)],
        created_seq=42,
    )
    metadata = spec.metadata()
    assert metadata[MD_QUEUE] == "q"
    assert metadata[MD_FLAGS] == "exclusive,auto_delete"
    assert metadata[MD_OWNER] == "conn-1"
    assert metadata[MD_ARGS] == '{"x-dead-letter-exchange":"d","x-message-ttl":5}'
    assert metadata[MD_BINDINGS] == '[["x","topic","a.#",3,false]]'
    assert metadata["amqp.created"] == "42"
    assert QueueSpec.from_info(_info(metadata)) == spec
    durable = QueueSpec("d")
    assert durable.metadata()[MD_FLAGS] == "durable"
    assert QueueSpec.from_info(_info(durable.metadata())) == durable


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        {},
        {"other": "x"},
    ],
)
def test_a_consumer_without_a_queue_description_is_no_queue(
    metadata: dict[str, str] | None,
) -> None:
    assert QueueSpec.from_info(_info(metadata)) is None


@pytest.mark.parametrize(
    "broken",
    [
        {MD_ARGS: "{not json"},
        {MD_BINDINGS: "[[1, 2]]"},
        {"amqp.created": "soon"},
    ],
)
def test_a_damaged_description_is_no_queue(broken: dict[str, str]) -> None:
    assert QueueSpec.from_info(_info({MD_QUEUE: "q", **broken})) is None


def test_a_description_with_only_a_name_reads_with_defaults() -> None:
    spec = QueueSpec.from_info(_info({MD_QUEUE: "q", MD_ARGS: "[1]"}))
    assert spec == QueueSpec(
        "q", durable=False, exclusive=False, auto_delete=False, owner="", arguments={}
    )


def test_declare_ok_is_frozen() -> None:
    ok = QueueDeclareOk("q", 3, 1)
    assert (ok.queue, ok.message_count, ok.consumer_count) == ("q", 3, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ok.queue = "other"  # type: ignore[misc]
