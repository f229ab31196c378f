"""Direct Get: stored messages read from any replica of a stream with ``allow_direct``,
over ``<prefix>.DIRECT.GET.<stream>``, one at a time or in batches (nats-server 2.11+).

The answer is the stored message itself, its origin in ``Nats-*`` headers
(``Nats-Stream``, ``Nats-Subject``, ``Nats-Sequence``, ``Nats-Time-Stamp``); a status
message says there is none (404) or, for a batch, that the batch ended (204).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..client.client import Client
from ..client.errors import TimeoutError
from ..client.message import Message
from ..protocol.frames import HMsg
from .api import RawStreamMsg, parse_time
from .errors import APIError, NoMessageFoundError

STREAM = "Nats-Stream"
SUBJECT = "Nats-Subject"
SEQUENCE = "Nats-Sequence"
TIME_STAMP = "Nats-Time-Stamp"
NUM_PENDING = "Nats-Num-Pending"
LAST_SEQUENCE = "Nats-Last-Sequence"
_END_OF_BATCH = 204
# The header block of a stored message without headers of its own: the server's four
# (five, six with a batch's counters) lines and nothing else.
_BLOCK_START = b"NATS/1.0\r\n"
_ADDED_BY_SERVER = frozenset(
    name.encode() for name in (STREAM, SUBJECT, SEQUENCE, TIME_STAMP, NUM_PENDING, LAST_SEQUENCE)
)
_SUBJECT_NAME = SUBJECT.encode()
_SEQUENCE_NAME = SEQUENCE.encode()


def plain_stored(msg: Message) -> tuple[str, int | None] | None:
    """The stored subject and sequence of a Direct Get answer whose message has no
    headers of its own, read from the header block in one pass without building a
    :class:`Headers`; ``None`` for any other answer (a status, headers the message was
    stored with, anything unusual), which :func:`raw_from_direct` then reads in full."""
    frame = msg.frame
    if frame.__class__ is not HMsg:
        return None
    raw: bytes = frame.raw_headers
    if not raw.startswith(_BLOCK_START):
        return None  # a status line
    subject = seq = None
    for line in raw[len(_BLOCK_START) : -4].split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon or name not in _ADDED_BY_SERVER:
            return None
        if name == _SUBJECT_NAME:
            if subject is not None:
                return None
            subject = value.strip()
        elif name == _SEQUENCE_NAME:
            if seq is not None:
                return None
            seq = value.strip()
    if not subject or not subject.isascii():
        return None
    return subject.decode(), int(seq) if seq is not None and seq.isdigit() else None


def raw_from_direct(msg: Message, stream: str) -> RawStreamMsg:
    """The stored message a Direct Get answered with; raises for a status answer."""
    headers = msg.headers
    status = msg.status
    if status is not None:
        description = headers.description if headers is not None else ""
        if status == 404:
            raise NoMessageFoundError(404, 10037, description or "no message found")
        raise APIError(status, None, description or f"direct get failed ({status})")
    if headers is None or headers.get(SUBJECT) is None:
        raise APIError(500, None, "direct get answer lacks its Nats-Subject header")
    seq = headers.get(SEQUENCE)
    extra: dict[str, Any] = {}
    for name, key in ((NUM_PENDING, "num_pending"), (LAST_SEQUENCE, "last_seq")):
        value = headers.get(name)
        if value is not None and value.isdigit():
            extra[key] = int(value)
    return RawStreamMsg(
        subject=headers.get(SUBJECT),
        seq=int(seq) if seq is not None and seq.isdigit() else None,
        data=msg.data,
        headers=headers,
        time=parse_time(headers.get(TIME_STAMP)),
        stream=headers.get(STREAM) or stream,
        extra=extra,
    )


def single_request(
    prefix: str, stream: str, seq: int | None, subject: str | None, next: bool
) -> tuple[str, bytes]:
    """The subject and body of a one-message Direct Get."""
    api = f"{prefix}.DIRECT.GET.{stream}"
    if next:
        if not subject:
            raise ValueError("next=True needs a subject")
        return api, json.dumps({"seq": seq or 0, "next_by_subj": subject}).encode()
    if subject:
        if seq:
            raise ValueError("give seq or subject (or next=True), not both")
        return f"{api}.{subject}", b""  # the last message on the subject, no body
    if seq:
        return api, json.dumps({"seq": seq}).encode()
    raise ValueError("get_msg needs seq or subject")


async def get_batch(
    nc: Client,
    prefix: str,
    stream: str,
    body: dict[str, Any],
    timeout: float,
) -> list[RawStreamMsg]:
    """Every message a batched Direct Get (``batch`` or ``multi_last``) answers with, up
    to the end-of-batch status; ``[]`` when none matched."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    found: list[RawStreamMsg] = []
    try:
        await nc.publish(f"{prefix}.DIRECT.GET.{stream}", json.dumps(body).encode(), inbox)
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"direct get batch from {stream!r} not finished in {timeout} s")
            msg = await sub.next_msg(remaining)
            status = msg.status
            if status == _END_OF_BATCH:
                return found
            if status == 404 and not found:
                return found
            found.append(raw_from_direct(msg, stream))
    finally:
        await sub.unsubscribe()
