"""Message counters (nats-server 2.12, ADR-49): in a stream with ``allow_msg_counter``
every subject is a counter. A publish carries the increment in ``Nats-Incr``
(``"+5"``, ``"-2"``); the server adds it to the subject's last value, stores the sum as
``{"val": "<sum>"}`` and answers it in the ack (``PubAck.val``). Counters in streams
sourced from other counter streams add those up, keeping each source's last value in
``Nats-Counter-Sources``.

nats-py 2.16 and nats.go have no API for it (nats-py only knows ``PubAck.val``,
``StreamConfig.allow_msg_counter`` and the header name); this follows the Go one,
Synadia's ``orbit.go/counters``::

    counter = await get_counter(js, "HITS")
    await counter.add("hits.home", 5)         # -> 5
    (await counter.load("hits.home")).val     # -> 5
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .api import Header, RawStreamMsg, StreamInfo
from .errors import (
    CounterNotEnabledError,
    CounterNotFoundError,
    DirectAccessRequiredError,
    InvalidCounterValueError,
    NoCounterForSubjectError,
    NoMessageFoundError,
    StreamNotFoundError,
)
from .puback import parse_pub_ack

if TYPE_CHECKING:
    from .manager import JetStreamManager

#: Per source (``"<stream>"``, as the server keys it), per subject there, the last
#: value that source reported.
CounterSources = dict[str, dict[str, int]]


@dataclass
class CounterValue:
    """A counter's value and subject."""

    val: int
    subject: str


@dataclass
class CounterEntry:
    """A counter with its history: the value, what each source stream contributed,
    and the last increment stored (``None`` when none was sent with it)."""

    subject: str
    value: int
    sources: CounterSources = field(default_factory=dict)
    incr: int | None = None


def parse_counter_value(data: bytes) -> int:
    """The value in a counter message's body (``{"val": "12"}``)."""
    try:
        text = json.loads(data)["val"]
        return int(text)
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidCounterValueError(f"not a counter value: {data[:100]!r}") from exc


def parse_sources(text: str | None) -> CounterSources:
    """The ``Nats-Counter-Sources`` header: each source's contributions."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
        return {
            source: {subject: int(value) for subject, value in subjects.items()}
            for source, subjects in raw.items()
        }
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidCounterValueError(f"not a counter sources header: {text[:100]!r}") from exc


def _entry(msg: RawStreamMsg) -> CounterEntry:
    headers = msg.headers
    incr = headers.get(Header.INCR.value) if headers is not None else None
    sources = headers.get(Header.COUNTER_SOURCES.value) if headers is not None else None
    return CounterEntry(
        subject=msg.subject or "",
        value=parse_counter_value(msg.data),
        sources=parse_sources(sources),
        incr=int(incr) if incr is not None else None,
    )


class Counter:
    """The counters of one stream with ``allow_msg_counter`` and ``allow_direct``; each
    subject is one. Make it with :func:`get_counter` or :func:`counter_from_stream`."""

    def __init__(self, js: JetStreamManager, stream: str) -> None:
        self._js = js
        self._stream = stream

    @property
    def stream(self) -> str:
        """The counter stream's name."""
        return self._stream

    async def add(self, subject: str, value: int) -> int:
        """Add ``value`` (negative to subtract; any size) to the counter on ``subject``
        and return its new value."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidCounterValueError(f"a counter adds integers, not {value!r}")
        ack = await self._js.client.request(
            subject,
            b"",
            timeout=self._js.timeout,
            headers={Header.INCR.value: f"{value:+d}"},
        )
        pub_ack = parse_pub_ack(ack.data)
        if pub_ack.val is None:
            raise InvalidCounterValueError(f"the ack of the add to {subject!r} has no value")
        return int(pub_ack.val)

    async def increment(self, subject: str) -> int:
        """Add 1."""
        return await self.add(subject, 1)

    async def decrement(self, subject: str) -> int:
        """Subtract 1."""
        return await self.add(subject, -1)

    async def load(self, subject: str) -> CounterValue:
        """The counter's value; :class:`NoCounterForSubjectError` when nothing was ever
        added on ``subject``."""
        msg = await self._last(subject)
        return CounterValue(val=parse_counter_value(msg.data), subject=msg.subject or subject)

    async def load_multiple(self, subjects: Sequence[str]) -> list[CounterValue]:
        """The values of every counter on ``subjects`` (wildcards allowed); counters
        never added to are left out."""
        msgs = await self._js.get_msgs(self._stream, multi_last=list(subjects))
        return [CounterValue(parse_counter_value(m.data), m.subject or "") for m in msgs]

    async def get_entry(self, subject: str) -> CounterEntry:
        """The counter with its sources and last increment."""
        return _entry(await self._last(subject))

    async def get_entries(self, subjects: Sequence[str]) -> list[CounterEntry]:
        """:meth:`get_entry` for every counter on ``subjects`` (wildcards allowed)."""
        return [_entry(m) for m in await self._js.get_msgs(self._stream, multi_last=list(subjects))]

    async def _last(self, subject: str) -> RawStreamMsg:
        try:
            return await self._js.get_msg(self._stream, subject=subject, direct=True)
        except NoMessageFoundError:
            raise NoCounterForSubjectError(
                f"no counter on {subject!r} in stream {self._stream!r}"
            ) from None


def counter_from_stream(js: JetStreamManager, info: StreamInfo) -> Counter:
    """The counters of the stream ``info`` describes; raises
    :class:`CounterNotEnabledError` or :class:`DirectAccessRequiredError` when the
    stream is not configured for them."""
    config = info.config
    if not config.allow_msg_counter:
        raise CounterNotEnabledError(f"stream {config.name!r} has no allow_msg_counter")
    if not config.allow_direct:
        raise DirectAccessRequiredError(f"stream {config.name!r} has no allow_direct")
    assert config.name is not None
    return Counter(js, config.name)


async def get_counter(js: JetStreamManager, stream: str) -> Counter:
    """The counters of the stream ``stream``; :class:`CounterNotFoundError` when there is
    no such stream."""
    try:
        info = await js.stream_info(stream)
    except StreamNotFoundError:
        raise CounterNotFoundError(f"no stream {stream!r}") from None
    return counter_from_stream(js, info)
