"""Garbage and mutated valid streams give frames or RemoteProtocolError, nothing else."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from protocol_strategies import roles, streams

from natswire.protocol import (
    OK,
    PING,
    PONG,
    Connect,
    Err,
    Frame,
    HMsg,
    HPub,
    Info,
    Msg,
    Parser,
    Pub,
    RemoteProtocolError,
    Role,
    Sub,
    Unsub,
)

SETTINGS = settings(max_examples=200, deadline=None)

CLIENT_FRAMES = (Msg, HMsg, Info, Err, type(PING), type(PONG), type(OK))
SERVER_FRAMES = (Pub, HPub, Sub, Unsub, Connect, type(PING), type(PONG))

#: Parser options that put the limits within reach of small inputs.
OPTIONS = st.sampled_from(
    [
        {},
        {"max_control_line": 24},
        {"max_payload": 8},
        {"max_control_line": 64, "max_payload": 0},
    ]
)


def check_frame(role: Role, frame: Frame) -> None:
    assert isinstance(frame, CLIENT_FRAMES if role is Role.CLIENT else SERVER_FRAMES), frame
    if isinstance(frame, (Msg, HMsg)):
        assert isinstance(frame.subject, bytes) and frame.subject
        assert isinstance(frame.sid, bytes) and frame.sid
    if isinstance(frame, (Msg, HMsg, Pub, HPub)):
        assert frame.reply is None or (isinstance(frame.reply, bytes) and frame.reply)
        assert isinstance(frame.payload, bytes)
    if isinstance(frame, (HMsg, HPub)):
        assert frame.raw_headers.startswith(b"NATS/1.0")
        assert frame.raw_headers.endswith(b"\r\n\r\n")
    if isinstance(frame, (Info, Connect)):
        assert isinstance(frame.fields, dict)
    if isinstance(frame, Err):
        assert isinstance(frame.message, str)
    if isinstance(frame, Unsub):
        assert frame.max_msgs is None or frame.max_msgs >= 0


def parse_chunks(
    role: Role, chunks: list[bytes], options: dict[str, Any]
) -> tuple[list[Frame], bool]:
    """Feed chunks; only RemoteProtocolError may escape, and then the parser is closed.

    Returns the frames and whether an error was raised (the frames are then those
    returned before the error, which depends on the chunking, so they are dropped).
    """
    parser = Parser(role, **options)
    frames: list[Frame] = []
    try:
        for chunk in chunks:
            frames += parser.receive_data(chunk)
    except RemoteProtocolError:
        try:
            parser.receive_data(b"PING\r\n")
        except RemoteProtocolError:
            pass
        else:
            raise AssertionError("the parser accepted input after an error") from None
        for frame in frames:
            check_frame(role, frame)
        return [], True
    for frame in frames:
        check_frame(role, frame)
    return frames, False


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


@SETTINGS
@given(roles, st.binary(max_size=512), st.lists(st.integers(0, 512), max_size=8), OPTIONS)
@example(Role.CLIENT, b"MSG a 1 99999999999999999999999\r\n", [], {})
@example(Role.CLIENT, b"HMSG a 1 2 1\r\n", [], {})
@example(Role.SERVER, b"HPUB a 0 0\r\n\r\n", [], {})
@example(Role.CLIENT, b"INFO " + b"[" * 3000 + b"\r\n", [], {})
def test_random_bytes(role: Role, data: bytes, cuts: list[int], options: dict[str, Any]) -> None:
    assert parse_chunks(role, split(data, cuts), options) == parse_chunks(role, [data], options)


@SETTINGS
@given(
    roles,
    st.lists(
        st.sampled_from(
            [
                b"MSG",
                b"HMSG",
                b"PUB",
                b"HPUB",
                b"SUB",
                b"UNSUB",
                b"INFO",
                b"CONNECT",
                b"PING",
                b"PONG",
                b"+OK",
                b"-ERR",
                b" ",
                b"\t",
                b"\r",
                b"\n",
                b"\r\n",
                b"0",
                b"1",
                b"12",
                b"a",
                b"NATS/1.0",
                b"{}",
                b"'",
                b"-",
                b"\x00",
                b"\xff",
            ]
        ),
        max_size=40,
    ).map(b"".join),
    OPTIONS,
)
def test_protocol_shaped_garbage(role: Role, data: bytes, options: dict[str, Any]) -> None:
    """Random sequences of protocol tokens reach much deeper than uniform bytes."""
    whole = parse_chunks(role, [data], options)
    assert parse_chunks(role, [data[i : i + 1] for i in range(len(data))], options) == whole


@st.composite
def mutated_streams(draw: st.DrawFn) -> tuple[Role, bytes]:
    role = draw(roles)
    data = bytearray(draw(streams(role, small=True, max_frames=6))[0])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "replace"]))
        index = draw(st.integers(0, len(data)))
        if kind == "flip" and data:
            data[index % len(data)] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[index:]
        elif kind == "insert":
            data[index:index] = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=8), st.sampled_from([b"\r\n", b" ", b"\n"])
                )
            )
        elif kind == "delete":
            del data[index : index + draw(st.integers(1, 8))]
        elif kind == "replace" and data:
            data[index % len(data)] = draw(st.sampled_from(b"\r\n \t09aZ-+."))
    return role, bytes(data)


@SETTINGS
@given(mutated_streams(), st.lists(st.integers(0, 2000), max_size=6), OPTIONS)
def test_mutated_valid_streams(
    case: tuple[Role, bytes], cuts: list[int], options: dict[str, Any]
) -> None:
    role, data = case
    whole = parse_chunks(role, [data], options)
    # Same frames, or an error in both cases, however the input is cut.
    assert parse_chunks(role, split(data, cuts), options) == whole


@settings(max_examples=60, deadline=None)
@given(mutated_streams())
def test_mutated_valid_streams_byte_by_byte(case: tuple[Role, bytes]) -> None:
    role, data = case
    whole = parse_chunks(role, [data], {})
    assert parse_chunks(role, [data[i : i + 1] for i in range(len(data))], {}) == whole


@given(roles, st.binary(min_size=1, max_size=64))
def test_other_role_garbage_is_rejected_cleanly(role: Role, tail: bytes) -> None:
    """Every frame of one role is an unknown operation to the other."""
    other = b"PUB a 1\r\nx\r\n" if role is Role.CLIENT else b"MSG a 1 1\r\nx\r\n"
    parser = Parser(role)
    try:
        parser.receive_data(other + tail)
    except RemoteProtocolError as exc:
        assert "unknown protocol operation" in str(exc)
    else:
        raise AssertionError("a frame of the other role was accepted")
