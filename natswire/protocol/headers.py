"""NATS message headers: the ``NATS/1.0`` block.

A :class:`Headers` is a multi-map: a key may carry several values, keys keep the case
they were given, and lookup ignores case. It behaves as a ``MutableMapping[str, str]``
whose value is the first one for the key, so code written for nats-py's
``dict[str, str]`` headers keeps working; :meth:`Headers.get_all` gives every value.

The block may start with an inline status, ``NATS/1.0 503`` or
``NATS/1.0 408 Request Timeout``, exposed as :attr:`Headers.status` and
:attr:`Headers.description`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TypeAlias

from .errors import LocalProtocolError, RemoteProtocolError

HEADER_VERSION = b"NATS/1.0"
_LINE_END = b"\r\n"
_FORBIDDEN_IN_NAME = frozenset(" \t\r\n:")
_FORBIDDEN_IN_VALUE = frozenset("\r\n")

HeaderValues: TypeAlias = "str | Iterable[str]"
HeadersLike: TypeAlias = "Headers | Mapping[str, HeaderValues] | Iterable[tuple[str, str]]"


class Headers(MutableMapping[str, str]):
    """Multi-value, case-preserving, case-insensitive message headers."""

    __slots__ = ("_pairs", "description", "status")

    def __init__(
        self,
        headers: HeadersLike | None = None,
        *,
        status: int | None = None,
        description: str = "",
    ) -> None:
        self._pairs: list[tuple[str, str]] = []
        #: The inline status code (``503`` for no responders), or ``None``.
        self.status = status
        #: The text after the status code, ``""`` when there is none.
        self.description = description
        if headers is None:
            return
        if isinstance(headers, Headers):
            self._pairs = headers.multi_items()
            if status is None:
                self.status = headers.status
                self.description = headers.description
        elif isinstance(headers, Mapping):
            for key, values in headers.items():
                if isinstance(values, str):
                    self._pairs.append((key, values))
                else:
                    self._pairs.extend((key, value) for value in values)
        else:
            self._pairs.extend((key, value) for key, value in headers)

    def __getitem__(self, key: str) -> str:
        folded = key.lower()
        for name, value in self._pairs:
            if name.lower() == folded:
                return value
        raise KeyError(key)

    def __setitem__(self, key: str, value: str) -> None:
        """Replace every value of ``key`` with ``value``."""
        folded = key.lower()
        pairs = self._pairs
        for index, (name, _) in enumerate(pairs):
            if name.lower() == folded:
                pairs[index] = (key, value)
                self._pairs = [
                    pair
                    for later, pair in enumerate(pairs)
                    if later <= index or pair[0].lower() != folded
                ]
                return
        pairs.append((key, value))

    def __delitem__(self, key: str) -> None:
        folded = key.lower()
        kept = [pair for pair in self._pairs if pair[0].lower() != folded]
        if len(kept) == len(self._pairs):
            raise KeyError(key)
        self._pairs = kept

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for name, _ in self._pairs:
            folded = name.lower()
            if folded not in seen:
                seen.add(folded)
                yield name

    def __len__(self) -> int:
        return len({name.lower() for name, _ in self._pairs})

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        folded = key.lower()
        return any(name.lower() == folded for name, _ in self._pairs)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return (
                self._pairs == other.multi_items()
                and self.status == other.status
                and self.description == other.description
            )
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        status = f", status={self.status!r}" if self.status is not None else ""
        description = f", description={self.description!r}" if self.description else ""
        return f"Headers({self._pairs!r}{status}{description})"

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key``, in order (an empty list when absent)."""
        folded = key.lower()
        return [value for name, value in self._pairs if name.lower() == folded]

    def add(self, key: str, value: str) -> None:
        """Add a value to ``key``, keeping the values it already has."""
        self._pairs.append((key, value))

    def multi_items(self) -> list[tuple[str, str]]:
        """Every ``(key, value)`` pair, repeated keys included, in order."""
        return list(self._pairs)

    def copy(self) -> Headers:
        """A shallow copy."""
        return Headers(self)


def encode_headers(headers: HeadersLike) -> bytes:
    """Encode headers as a ``NATS/1.0`` block, including the blank line that ends it.

    Headers with an empty name are left out, as nats-py does. Raises
    :class:`LocalProtocolError` for names that hold whitespace, ``:`` or line breaks,
    and for values holding CR or LF.
    """
    if not isinstance(headers, Headers):
        headers = Headers(headers)
    first = "NATS/1.0"
    if headers.status is not None:
        if not 100 <= headers.status <= 999:
            raise LocalProtocolError(f"header status must be 3 digits, got {headers.status!r}")
        first = f"NATS/1.0 {headers.status}"
        if headers.description:
            _check_value("status description", headers.description)
            first += " " + headers.description
    lines = [first]
    # friend: same module; the pairs as they are, without multi_items()'s copy.
    for name, value in headers._pairs:
        if not isinstance(name, str) or not isinstance(value, str):
            raise LocalProtocolError(
                f"header names and values must be str, got {name!r}: {value!r}"
            )
        if not name:
            continue  # nats-py drops headers without a name
        if not _FORBIDDEN_IN_NAME.isdisjoint(name):
            raise LocalProtocolError(f"header name {name!r} holds whitespace, ':' or a line break")
        _check_value(f"header {name!r}", value)
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode()


def _check_value(what: str, value: str) -> None:
    if not _FORBIDDEN_IN_VALUE.isdisjoint(value):
        raise LocalProtocolError(f"{what} value {value!r} holds CR or LF")


def parse_headers(raw: bytes) -> Headers:
    """Parse a ``NATS/1.0`` block as found in ``HMsg.raw_headers``.

    Values lose surrounding whitespace; a line that starts with a space or tab
    continues the previous value. Raises :class:`RemoteProtocolError` on anything that
    is not a header block.
    """
    if not raw.startswith(HEADER_VERSION):
        raise RemoteProtocolError(f"header block does not start with NATS/1.0: {raw[:40]!r}")
    try:
        text = raw.decode()
    except UnicodeDecodeError as exc:
        raise RemoteProtocolError(f"header block is not UTF-8: {exc}") from None
    lines = text.split("\r\n")
    if len(lines) < 3 or lines[-1] != "" or lines[-2] != "":
        raise RemoteProtocolError(f"header block does not end with a blank line: {raw[-40:]!r}")
    headers = Headers()
    status_line = lines[0][len("NATS/1.0") :]
    if status_line:
        if status_line[0] not in " \t":
            raise RemoteProtocolError(f"bad header version line: {lines[0]!r}")
        code, _, description = status_line.strip().partition(" ")
        if code:
            if len(code) != 3 or not code.isdigit() or not code.isascii():
                raise RemoteProtocolError(f"bad status code in header line: {lines[0]!r}")
            headers.status = int(code)
            headers.description = description.strip()
    # friend: same module; the new Headers' pairs are filled in place.
    pairs = headers._pairs
    for line in lines[1:-2]:
        if line[:1] in (" ", "\t"):
            if not pairs:
                raise RemoteProtocolError(f"continuation line before any header: {line!r}")
            name, value = pairs[-1]
            pairs[-1] = (name, f"{value} {line.strip()}".strip())
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or not _FORBIDDEN_IN_NAME.isdisjoint(name):
            raise RemoteProtocolError(f"malformed header line: {line!r}")
        pairs.append((name, value.strip()))
    return headers


def header_status(raw: bytes) -> int | None:
    """The inline status of a ``NATS/1.0`` block (``503``...), read from its first line
    without parsing the headers; ``None`` when there is none."""
    end = raw.find(b"\r\n")
    code = raw[len(HEADER_VERSION) : end if end >= 0 else len(raw)].strip()[:4]
    if len(code) >= 3 and code[:3].isdigit() and (len(code) == 3 or code[3:] in (b" ", b"\t")):
        return int(code[:3])
    return None
