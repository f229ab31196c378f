"""Names, subjects and topic patterns (no server)."""

from __future__ import annotations

import pytest

from natswire import amqp
from natswire.amqp.names import (
    SubjectMap,
    consumer_name,
    decode_word,
    encode_key,
    encode_word,
    queue_of_consumer,
    subjects_overlap,
    topic_filters,
    topic_matches,
)


@pytest.mark.parametrize(
    "word", ["", "a", "*", ">", "#", "%", "a.b", "with space", "ünï", "%41", "a\tb", "x/y"]
)
def test_words_round_trip_and_never_hold_wildcards(word: str) -> None:
    token = encode_word(word)
    assert token and "." not in token and "*" not in token and ">" not in token
    assert " " not in token and "\t" not in token and "/" not in token
    assert decode_word(token) == word


def test_encoding_is_injective_and_keeps_plain_words() -> None:
    words = ["", "%", "%25", "a b", "a%20b", "abc", "a-b_c:d"]
    assert len({encode_word(w) for w in words}) == len(words)
    assert encode_word("0f3c-uuid_x:1") == "0f3c-uuid_x:1"
    assert encode_key("u1.c1") == "u1.c1"
    assert encode_key("a..b") == "a.%.b"


def test_consumer_names_for_wire_queues_have_no_dots() -> None:
    name = consumer_name("backend-notifications.example.com")
    assert "." not in name and queue_of_consumer(name) == "backend-notifications.example.com"
    assert queue_of_consumer("other") is None


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("a.*", "a.b", True),
        ("a.*", "a", False),
        ("a.*", "a.b.c", False),
        ("a.#", "a", True),
        ("a.#", "a.b.c", True),
        ("#", "", True),
        ("#", "x.y", True),
        ("#.c", "c", True),
        ("#.c", "a.b.c", True),
        ("a.#.c", "a.c", True),
        ("a.#.c", "a.x.y.c", True),
        ("a.#.c", "a.x.y.d", False),
        ("a.*.#", "a", False),
        ("a.*.#", "a.b", True),
        ("*.b.*", "a.b.c", True),
        ("a.#.#.b", "a.b", True),
    ],
)
def test_topic_matching(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected


def test_topic_filters() -> None:
    assert topic_filters("p", "a.*") == (["p.a.*"], True)
    assert topic_filters("p", "a.#") == (["p.a", "p.a.>"], True)
    assert topic_filters("p", "#") == (["p.>"], True)
    # '#' in the middle has no NATS equivalent: a wider filter, checked by the adapter.
    assert topic_filters("p", "a.#.c") == (["p.a", "p.a.>"], False)
    assert topic_filters("p", "#.c") == (["p.>"], False)
    assert topic_filters("p", "x y.*") == (["p.x%20y.*"], True)


def test_wire_subjects_follow_the_plan() -> None:
    smap = SubjectMap.wire("wire")
    assert smap.publish_subject("user-notifications", "u1.c1") == "wire.user.notifications.u1.c1"
    assert smap.publish_subject("", "background-jobs") == "wire.background.jobs"
    assert smap.publish_subject("", "cells_events") == "wire.cells.events"
    domain_queue = amqp.backend_notifications_queue("example.com")
    assert smap.publish_subject("", domain_queue) == "wire.backend.notifications.example.com"
    assert amqp.backend_notifications_subject("example.com", "wire") == (
        "wire.backend.notifications.example.com"
    )
    assert amqp.domain_of_subject("wire.backend.notifications.example.com", "wire") == (
        "example.com"
    )
    assert amqp.user_notifications_subject("u1", "c1", "wire") == "wire.user.notifications.u1.c1"
    assert amqp.user_temp_subject("u1", "wire") == "wire.user.notifications.u1.temp"
    assert amqp.cells_events_subject("wire") == "wire.cells.events"
    assert amqp.temporary_routing_key("u1") == "u1.temporary"
    # Anything else: the generic spaces, one token per name.
    assert smap.publish_subject("", "user-notifications.u1.c1") == (
        "wire.amqp.q.user-notifications%2Eu1%2Ec1"
    )
    assert smap.publish_subject("other", "k") == "wire.amqp.x.other.k"
    assert SubjectMap.generic("").publish_subject("user-notifications", "u1") == (
        "amqp.x.user-notifications.u1"
    )


def test_subject_spaces_must_not_overlap() -> None:
    assert subjects_overlap("a.>", "a.b")
    assert subjects_overlap("a.*", "*.b")
    assert not subjects_overlap("a.>", "a")
    assert not subjects_overlap("a.b", "a.c")
    with pytest.raises(ValueError, match="overlap"):
        SubjectMap("ns", exchanges={"e1": "same", "e2": "same"})
    with pytest.raises(ValueError, match="overlap"):
        SubjectMap("ns", exchanges={"e": "amqp.x"})
    with pytest.raises(ValueError):
        SubjectMap("bad ns")


def test_minimal_filters_drop_covered_subjects() -> None:
    from natswire.amqp.names import minimal_filters, subject_covers

    assert subject_covers("p.>", "p.a.*") and subject_covers("p.*", "p.a")
    assert not subject_covers("p.a.*", "p.*.b") and not subject_covers("p.*", "p.>")
    assert minimal_filters(["p.q", "p.a.*", "p.a.b", "p.>", "p.a.*"]) == ["p.>"]
    assert minimal_filters(["p.a.*", "p.*.b"]) == ["p.a.*", "p.*.b"]
