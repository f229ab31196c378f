"""The stream's answer to an acked publish, and when to try the publish again.

Loop-free, so the asyncio context and the blocking client (:mod:`natswire.sync`) make
the same decisions and differ only in how they wait and send.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .api import PubAck
from .errors import (
    JetStreamError,
    NoStreamResponseError,
    ServiceUnavailableError,
    decode_response,
)

#: The longest pause between two attempts of one publish: a publish waiting out a leader
#: election (which takes 4-9 s) goes through within this long of its end.
MAX_RETRY_WAIT = 1.0
# The answer nats-server writes for most publishes (no domain, not a duplicate), taken
# without the JSON decoder; any other text (escapes, more fields) is decoded in full.
_PLAIN_ACK = re.compile(rb'\{"stream":"([^"\\]+)","seq":([0-9]{1,19})\}')


def plain_pub_ack(data: bytes) -> PubAck | None:
    """The stream's answer to a publish when it is the plain one (no domain, not a
    duplicate, no error); ``None`` for any other, which :func:`parse_pub_ack` reads."""
    plain = _PLAIN_ACK.fullmatch(data)
    return None if plain is None else PubAck(plain[1].decode(), int(plain[2]))


def parse_pub_ack(data: bytes) -> PubAck:
    """The stream's answer to a publish; raises the API error it carries."""
    plain = _PLAIN_ACK.fullmatch(data)
    if plain is not None:
        return PubAck(plain[1].decode(), int(plain[2]))
    resp = decode_response(data, "JetStream publish")
    if "stream" not in resp or "seq" not in resp:
        raise JetStreamError(f"JetStream publish answer lacks stream or seq: {resp!r}")
    return PubAck.from_response(resp)


class PublishRetry:
    """The attempts of one acked publish to ``subject``.

    ``pauses()`` yields the pause before each attempt (0 before the first, then doubling
    from ``wait``). A publish is tried again when no stream answered or the stream
    answered 503; after a timeout only when the message has an id (``has_id``), which
    makes the retry safe. :meth:`error` is what to raise once the attempts run out.
    """

    def __init__(self, subject: str, attempts: int, wait: float, has_id: bool) -> None:
        self.subject = subject
        self.attempts = attempts
        self.wait = wait
        self.has_id = has_id
        self._error: Exception | None = None

    def pauses(self) -> Iterator[float]:
        yield 0.0
        for attempt in range(1, self.attempts + 1):
            yield min(self.wait * 2 ** (attempt - 1), MAX_RETRY_WAIT)

    def no_responders(self) -> None:
        """No stream listens on the subject (or its leader is being elected)."""
        self._error = NoStreamResponseError(
            503, None, f"no stream answered the publish to {self.subject!r}"
        )

    def timed_out(self, exc: Exception) -> None:
        """The ack did not come in time: raises ``exc`` unless the message has an id."""
        if not self.has_id:
            raise exc
        self._error = exc

    def answer(self, data: bytes) -> PubAck | None:
        """The ack in ``data``, or ``None`` when the stream answered 503 (try again)."""
        try:
            return parse_pub_ack(data)
        except ServiceUnavailableError as exc:
            self._error = exc
            return None

    def error(self) -> Exception:
        assert self._error is not None
        return self._error
