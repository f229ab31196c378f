"""The push consumer's decisions without a server: ordered-consumer sequence tracking,
control-message answers in delivery order, and the missed-heartbeat alarm."""

from __future__ import annotations

import pytest

from natswire.jetstream.api import ConsumerConfig, DeliverPolicy
from natswire.jetstream.flow import HeartbeatWatch, OrderedSequence, answer_control

FC = "FlowControl Request"
HB = "Idle Heartbeat"


def test_ordered_sequence_accepts_the_next_and_refuses_a_gap() -> None:
    seq = OrderedSequence()
    assert seq.accept(1, 10) and seq.accept(2, 11)
    assert not seq.accept(4, 13)  # consumer sequence 3 went missing
    assert seq.stream_seq == 11 and seq.consumer_seq == 2
    assert seq.restart() == 12
    # The replacement consumer counts from 1 again, from stream sequence 12.
    assert not seq.accept(2, 13)
    assert seq.accept(1, 12) and seq.accept(2, 14)
    assert seq.next_stream_seq == 15


def test_ordered_sequence_refuses_a_redelivery() -> None:
    seq = OrderedSequence()
    assert seq.accept(1, 1)
    assert not seq.accept(1, 1)


def test_ordered_sequence_with_a_start() -> None:
    seq = OrderedSequence(start_stream_seq=50)
    assert seq.next_stream_seq == 50
    assert OrderedSequence().next_stream_seq == 1


def test_ordered_sequence_knows_where_a_consumer_starts_only_when_told_or_after_a_message() -> None:
    seq = OrderedSequence()  # a policy with no single start (LAST_PER_SUBJECT, say)
    assert not seq.position_known
    seq.start_at(0)
    assert not seq.position_known
    seq.start_at(7)  # the first consumer, once made, said it starts at 7
    assert seq.position_known and seq.restart() == 7
    assert seq.accept(1, 9)
    seq.start_at(3)  # too late: a message was handed out
    assert seq.next_stream_seq == 10
    assert OrderedSequence(start_stream_seq=1).position_known
    unknown = OrderedSequence()
    assert unknown.accept(1, 4) and unknown.position_known


def test_a_replacement_starts_after_the_known_position_or_keeps_its_deliver_policy() -> None:
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT, opt_start_time="2026-01-01T00:00:00Z"
    )
    unknown = OrderedSequence()
    kept = unknown.replacement(config, name="c_1")
    assert (kept.name, kept.deliver_policy, kept.opt_start_seq) == (
        "c_1",
        DeliverPolicy.LAST_PER_SUBJECT,
        None,
    )
    known = OrderedSequence()
    assert known.accept(1, 9) and known.accept(2, 10)
    moved = known.replacement(config, name="c_2")
    assert (moved.deliver_policy, moved.opt_start_seq, moved.opt_start_time) == (
        DeliverPolicy.BY_START_SEQUENCE,
        11,
        None,
    )
    assert known.consumer_seq == 0 and config.deliver_policy == DeliverPolicy.LAST_PER_SUBJECT


def _ack(cseq: int, sseq: int, v2: bool = False) -> bytes:
    head = "$JS.ACK.hub.ACCHASH.S.C" if v2 else "$JS.ACK.S.C"
    tail = ".tok" if v2 else ""
    return f"{head}.1.{sseq}.{cseq}.1733480000000000000.0{tail}".encode()


@pytest.mark.parametrize("v2", [False, True])
def test_ordered_sequence_accepts_by_ack_subject_and_reads_the_stream_seq_late(
    v2: bool,
) -> None:
    seq = OrderedSequence()
    assert seq.accept_reply(_ack(1, 10, v2)) and seq.accept_reply(_ack(2, 11, v2))
    assert seq.last_reply == _ack(2, 11, v2)  # not read yet
    assert seq.stream_seq == 11 and seq.last_reply is None
    assert not seq.accept_reply(_ack(4, 13, v2))  # consumer sequence 3 went missing
    assert seq.consumer_seq == 2 and seq.next_stream_seq == 12
    assert not seq.accept_reply(b"")  # no ack subject: never the next one
    assert not seq.accept_reply(b"$JS.ACK.S.C.1.2")
    assert seq.restart() == 12
    assert seq.accept_reply(_ack(1, 12, v2))
    # accept() with numbers replaces an unread ack subject.
    assert seq.accept(2, 20) and seq.last_reply is None and seq.stream_seq == 20


def test_flow_control_replies_follow_the_messages_they_were_sent_after() -> None:
    """Events taken in delivery order: an answer goes out exactly where its request was."""
    events = [("data", ""), ("data", ""), ("fc", "r1"), ("data", ""), ("hb", ""), ("fc", "r2")]
    log: list[str] = []
    for kind, reply in events:
        if kind == "data":
            log.append("deliver")
            continue
        answer = answer_control(FC if kind == "fc" else HB, reply, None, None, None)
        log.extend(f"reply {subject}" for subject in answer.replies)
        assert not answer.reset
    assert log == ["deliver", "deliver", "reply r1", "deliver", "reply r2"]


def test_a_stalled_heartbeat_is_answered_on_its_stalled_subject() -> None:
    answer = answer_control(HB, "", "$JS.FC.S.x.1", None, None)
    assert answer.replies == ("$JS.FC.S.x.1",)
    assert answer_control(HB, "", None, None, None).replies == ()


def test_a_heartbeat_naming_a_later_consumer_sequence_resets_an_ordered_consumer() -> None:
    seq = OrderedSequence()
    seq.accept(1, 1)
    assert not answer_control(HB, "", None, "1", seq).reset
    assert answer_control(HB, "", None, "3", seq).reset
    assert not answer_control(HB, "", None, "3", None).reset  # not ordered
    assert not answer_control(HB, "", None, "junk", seq).reset


def test_heartbeat_watch_alarms_after_two_silent_intervals_once() -> None:
    watch = HeartbeatWatch(1.0, now=0.0)
    assert not watch.check(0, 1.5)
    assert watch.check(0, 2.0)
    assert not watch.check(0, 3.0)  # once per two intervals
    assert watch.check(0, 4.0)


def test_heartbeat_watch_counts_arrivals_as_life() -> None:
    watch = HeartbeatWatch(1.0, now=0.0)
    assert not watch.check(1, 1.9)
    assert not watch.check(2, 3.8)
    assert not watch.check(2, 5.7)
    assert watch.check(2, 5.8)
    watch.restart(2, 10.0)
    assert not watch.check(2, 11.0)
    with pytest.raises(ValueError):
        HeartbeatWatch(0, 0.0)


def test_consumer_errors_under_nats_py_names() -> None:
    from natswire import errors

    assert issubclass(errors.FetchTimeoutError, errors.TimeoutError)
    assert issubclass(errors.FetchTimeoutError, errors.JetStreamError)
    mismatch = errors.ConsumerSequenceMismatchError(12, 3, 5)
    assert (mismatch.stream_resume_sequence, mismatch.consumer_sequence) == (12, 3)
    assert mismatch.last_consumer_sequence == 5 and "12" in str(mismatch)
    assert {"FetchTimeoutError", "ConsumerSequenceMismatchError"} <= set(errors.__all__)


def test_ack_sequences_from_either_ack_subject_layout() -> None:
    from natswire.jetstream.flow import ack_sequences

    assert ack_sequences(b"$JS.ACK.S.C.1.42.7.1700000000000000000.0") == (7, 42)
    v2 = b"$JS.ACK.dom.ACCHASH.S.C.1.42.7.1700000000000000000.0.rnd"
    assert ack_sequences(v2) == (7, 42)
    assert ack_sequences(v2.rsplit(b".", 1)[0]) == (7, 42)
    assert ack_sequences(b"not.an.ack") == (0, 0)
