"""Hypothesis strategies shared by the protocol tests.

Each frame strategy draws a pair ``(wire_bytes, expected_frame)``: the bytes come
from the ``encode_*`` functions, the frame is built independently from the drawn
values, so a round trip compares the parser against what the test meant to send.

Imported by plain name (``from protocol_strategies import ...``): pytest puts this
directory on ``sys.path`` for the test modules beside it.
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

from natswire.protocol import (
    OK,
    PING,
    PONG,
    Connect,
    Err,
    Frame,
    Headers,
    HMsg,
    HPub,
    Info,
    Msg,
    Pub,
    Role,
    Sub,
    Unsub,
    encode_connect,
    encode_err,
    encode_hmsg,
    encode_hpub,
    encode_info,
    encode_msg,
    encode_ok,
    encode_ping,
    encode_pong,
    encode_pub,
    encode_sub,
    encode_unsub,
)

MAX_PAYLOAD = 64 * 1024

# A token character: anything but ASCII whitespace/control characters, DEL and the
# token separator. Unicode is fine (it travels as UTF-8).
_TOKEN_ALPHABET = st.characters(
    exclude_categories=["Cs"],
    exclude_characters="." + "".join(map(chr, range(0x21))) + "\x7f",
)
_ASCII_TOKEN_ALPHABET = st.sampled_from(string.ascii_letters + string.digits + "-_$:%+=@")


def _token(alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=1, max_size=8)


plain_token = st.one_of(_token(_ASCII_TOKEN_ALPHABET), _token(_TOKEN_ALPHABET)).filter(
    lambda token: token not in ("*", ">")
)

#: A subject one may publish to: tokens without wildcards.
publish_subjects = st.lists(plain_token, min_size=1, max_size=5).map(".".join)


@st.composite
def subscribe_subjects(draw: st.DrawFn) -> str:
    """A subject one may subscribe to: '*' anywhere, '>' only as the last token."""
    tokens = draw(st.lists(st.one_of(plain_token, st.just("*")), min_size=1, max_size=5))
    if draw(st.booleans()):
        tokens.append(">")
    return ".".join(tokens)


#: Queue group names: no whitespace or control characters ('.' and '*' are fine).
queue_names = st.text(
    st.characters(
        exclude_categories=["Cs"],
        exclude_characters="".join(map(chr, range(0x21))) + "\x7f",
    ),
    min_size=1,
    max_size=12,
)

#: sids as the client sends them: integers, or alphanumeric strings.
sids = st.one_of(
    st.integers(min_value=0, max_value=2**63),
    st.text(string.ascii_letters + string.digits, min_size=1, max_size=10),
)


def sid_bytes(sid: int | str) -> bytes:
    return str(sid).encode()


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


#: Payload fragments that look like framing: a parser that scans payloads breaks on them.
_TRICKY = st.sampled_from(
    [
        b"\r\n",
        b"\r",
        b"\n",
        b"\r\n\r\n",
        b"MSG ",
        b"MSG a 1 5\r\n",
        b"HMSG a 1 12 12\r\n",
        b"PUB a 2\r\n",
        b"PING\r\n",
        b"-ERR 'x'\r\n",
        b"NATS/1.0\r\n\r\n",
        b"\x00",
        b"\xff",
    ]
)

#: Payloads of 0 to 64 KiB with CR, LF and protocol-looking text in them.
payloads = st.one_of(
    st.binary(max_size=256),
    st.lists(st.one_of(_TRICKY, st.binary(max_size=64)), max_size=20).map(b"".join),
    st.tuples(st.integers(0, MAX_PAYLOAD), st.binary(min_size=1, max_size=16)).map(
        lambda size_and_pattern: (size_and_pattern[1] * MAX_PAYLOAD)[: size_and_pattern[0]]
    ),
)
small_payloads = st.one_of(
    st.binary(max_size=32),
    st.lists(st.one_of(_TRICKY, st.binary(max_size=8)), max_size=4).map(b"".join),
)

# Header names: no whitespace, ':' or line breaks; values: no CR/LF, and no
# surrounding whitespace (parse_headers strips it).
_NAME_ALPHABET = st.characters(exclude_categories=["Cs"], exclude_characters=" \t\r\n:")
_VALUE_ALPHABET = st.characters(exclude_categories=["Cs"], exclude_characters="\r\n")
_COMMON_NAMES = [
    "Nats-Msg-Id",
    "nats-msg-id",
    "NATS-MSG-ID",
    "Nats-Expected-Stream",
    "Content-Type",
    "X-Trace",
    "x-trace",
    "Nats-Subject",
]
header_names = st.one_of(
    st.sampled_from(_COMMON_NAMES),
    st.text(_NAME_ALPHABET, min_size=1, max_size=12),
)
header_values = st.one_of(
    st.sampled_from(["", "1", "application/json", "a b  c", "x\ty"]),
    st.text(_VALUE_ALPHABET, max_size=20).filter(lambda value: value == value.strip()),
)
_STATUS_LINES = [
    (503, ""),
    (408, "Request Timeout"),
    (100, "Idle Heartbeat"),
    (100, "FlowControl Request"),
    (404, "No Messages"),
    (409, "Consumer Deleted"),
    (204, "EOB"),
]


@st.composite
def headers(draw: st.DrawFn) -> Headers:
    """Multi-value headers with case variants of repeated keys and maybe a status."""
    pairs = draw(st.lists(st.tuples(header_names, header_values), max_size=6))
    status: int | None = None
    description = ""
    choice = draw(st.integers(0, 3))
    if choice == 1:
        status, description = draw(st.sampled_from(_STATUS_LINES))
    elif choice == 2:
        status = draw(st.integers(100, 999))
        description = draw(
            st.text(_VALUE_ALPHABET, max_size=20).filter(lambda text: text == text.strip())
        )
    return Headers(pairs, status=status, description=description)


# JSON documents for INFO and CONNECT.
_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=8)
info_objects = st.one_of(
    json_objects,
    st.fixed_dictionaries(
        {
            "server_id": st.text(string.ascii_uppercase + string.digits, min_size=1),
            "version": st.just("2.10.24"),
            "proto": st.just(1),
            "headers": st.booleans(),
            "max_payload": st.integers(0, 64 * 1024 * 1024),
            "connect_urls": st.lists(st.just("10.0.0.1:4222"), max_size=30),
        }
    ),
)
#: -ERR texts: anything without a line break (the quotes are part of the framing).
err_messages = st.one_of(
    st.sampled_from(
        [
            "Unknown Protocol Operation",
            "Authorization Violation",
            'Permissions Violation for Publish to "a.b"',
            "'",
            "",
            " padded ",
        ]
    ),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=40),
)

Case = tuple[bytes, Frame]


@st.composite
def msg_frames(draw: st.DrawFn, payload: st.SearchStrategy[bytes] = payloads) -> Case:
    subject, sid = draw(publish_subjects), draw(sids)
    reply, body = draw(maybe(publish_subjects)), draw(payload)
    wire = encode_msg(subject, sid, body, reply)
    return wire, Msg(subject.encode(), sid_bytes(sid), reply and reply.encode(), body)


@st.composite
def hmsg_frames(draw: st.DrawFn, payload: st.SearchStrategy[bytes] = payloads) -> Case:
    subject, sid = draw(publish_subjects), draw(sids)
    reply, hdrs, body = draw(maybe(publish_subjects)), draw(headers()), draw(payload)
    wire = encode_hmsg(subject, sid, hdrs, body, reply)
    raw = _expected_header_block(hdrs)
    return wire, HMsg(subject.encode(), sid_bytes(sid), reply and reply.encode(), raw, body)


@st.composite
def pub_frames(draw: st.DrawFn, payload: st.SearchStrategy[bytes] = payloads) -> Case:
    subject, reply, body = draw(publish_subjects), draw(maybe(publish_subjects)), draw(payload)
    wire = encode_pub(subject, body, reply)
    return wire, Pub(subject.encode(), reply and reply.encode(), body)


@st.composite
def hpub_frames(draw: st.DrawFn, payload: st.SearchStrategy[bytes] = payloads) -> Case:
    subject, reply = draw(publish_subjects), draw(maybe(publish_subjects))
    hdrs, body = draw(headers()), draw(payload)
    wire = encode_hpub(subject, hdrs, body, reply)
    return wire, HPub(
        subject.encode(), reply and reply.encode(), _expected_header_block(hdrs), body
    )


@st.composite
def sub_frames(draw: st.DrawFn) -> Case:
    subject, sid, queue = draw(subscribe_subjects()), draw(sids), draw(maybe(queue_names))
    wire = encode_sub(subject, sid, queue)
    return wire, Sub(subject.encode(), queue and queue.encode(), sid_bytes(sid))


@st.composite
def unsub_frames(draw: st.DrawFn) -> Case:
    sid, max_msgs = draw(sids), draw(maybe(st.integers(0, 2**64)))
    return encode_unsub(sid, max_msgs), Unsub(sid_bytes(sid), max_msgs)


info_frames = info_objects.map(lambda fields: (encode_info(fields), Info(fields)))
connect_frames = json_objects.map(lambda fields: (encode_connect(fields), Connect(fields)))
err_frames = err_messages.map(lambda message: (encode_err(message), Err(message)))
ping_frames = st.just((encode_ping(), PING))
pong_frames = st.just((encode_pong(), PONG))
ok_frames = st.just((encode_ok(), OK))


def _expected_header_block(hdrs: Headers) -> bytes:
    """The NATS/1.0 block for ``hdrs``, built here rather than by encode_headers."""
    first = "NATS/1.0"
    if hdrs.status is not None:
        first += f" {hdrs.status}"
        if hdrs.description:
            first += f" {hdrs.description}"
    lines = [first] + [f"{name}: {value}" for name, value in hdrs.multi_items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def frames_for(role: Role, *, small: bool = False) -> st.SearchStrategy[Case]:
    """Any frame the parser of ``role`` reads; ``small`` keeps payloads short."""
    body = small_payloads if small else payloads
    if role is Role.CLIENT:
        return st.one_of(
            msg_frames(body),
            hmsg_frames(body),
            info_frames,
            err_frames,
            ping_frames,
            pong_frames,
            ok_frames,
        )
    return st.one_of(
        pub_frames(body),
        hpub_frames(body),
        sub_frames(),
        unsub_frames(),
        connect_frames,
        ping_frames,
        pong_frames,
    )


@st.composite
def streams(
    draw: st.DrawFn, role: Role, *, small: bool = False, max_frames: int = 12
) -> tuple[bytes, list[Frame]]:
    """A stream of mixed frames for ``role``: its bytes and the frames it holds."""
    cases = draw(st.lists(frames_for(role, small=small), min_size=1, max_size=max_frames))
    return b"".join(wire for wire, _ in cases), [frame for _, frame in cases]


def loosen(wire: bytes, bare_lf: bool, lower_case: bool) -> bytes:
    """Respell a frame as nats-server also accepts it: its control line ended by a
    bare LF, and/or its operation name in lower case (payload trailers stay CRLF)."""
    if bare_lf:
        wire = wire.replace(b"\r\n", b"\n", 1)
    if lower_case:
        wire = wire[:4].lower() + wire[4:]
    return wire


@st.composite
def lenient_streams(
    draw: st.DrawFn, role: Role, *, max_frames: int = 12
) -> tuple[bytes, list[Frame], int]:
    """A stream whose frames are spelled leniently at random (see :func:`loosen`):
    its bytes, its frames, and the length of its longest control line as the parser
    measures it (up to the LF, a CR before it included)."""
    cases = draw(st.lists(frames_for(role, small=True), min_size=1, max_size=max_frames))
    wires = [loosen(wire, draw(st.booleans()), draw(st.booleans())) for wire, _ in cases]
    longest = max(wire.index(b"\n") for wire in wires)
    return b"".join(wires), [frame for _, frame in cases], longest


roles = st.sampled_from([Role.CLIENT, Role.SERVER])
