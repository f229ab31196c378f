"""The control lines that announce a payload, decoded in one place.

:class:`HeadDecoder` owns the grammar of a MSG, HMSG, PUB and HPUB line after its
operation name: how many arguments, sizes that are decimal digits only, a header
size that never exceeds the total size, and a total size within ``max_payload``.
Every path of both roles' readers leaves these lines to it (but for the common case
below), so a line is taken or refused the same way however the input was cut. The
checks run in that order, so a line that breaks two rules is refused for the first.

The operation name itself (any case, then a space or tab) is recognised by the
caller. Arguments are split with ``bytes.split()``: runs of spaces and tabs count as
one separator, and a trailing CR is dropped. A CR inside the arguments separates
them too, as in nats-server; so do VT and FF, which nats-server keeps inside an
argument.

A Python call costs as much as the rest of a small MSG frame's parse, so the client
role's loops take the common line inline: MSG or HMSG as the server writes it, with
the right number of arguments and size fields found in :attr:`HeadDecoder.known_sizes`
(fields this decoder has already accepted). Any other line is decoded here.
"""

from __future__ import annotations

from .errors import PayloadTooLargeError, RemoteProtocolError

#: subject, sid, reply, payload size
MsgHead = tuple[bytes, bytes, bytes | None, int]
#: subject, sid, reply, header size, total size
HMsgHead = tuple[bytes, bytes, bytes | None, int, int]
#: subject, reply, payload size
PubHead = tuple[bytes, bytes | None, int]
#: subject, reply, header size, total size
HPubHead = tuple[bytes, bytes | None, int, int]

# Sizes repeat: this many decoded size fields are remembered, to skip int() on bytes.
_SIZE_CACHE_ENTRIES = 1024
_UNLIMITED = 1 << 62


class HeadDecoder:
    """Decodes the arguments of payload-announcing control lines.

    Each method takes the whole control line (its operation name first; a trailing
    CR may still be on it) and returns its fields, or raises
    :class:`RemoteProtocolError` naming the problem.
    """

    __slots__ = ("_limit", "_max_payload", "known_sizes")

    def __init__(self, max_payload: int | None) -> None:
        #: Size field -> its value, for fields this decoder accepted within the current
        #: limit (up to 1024 of them): a field found here is valid as it stands. Cleared,
        #: never replaced, when the limit changes, so a reader may keep a reference.
        self.known_sizes: dict[bytes, int] = {}
        self.max_payload = max_payload

    @property
    def max_payload(self) -> int | None:
        """The largest size a line may announce, or None for no limit."""
        return self._max_payload

    @max_payload.setter
    def max_payload(self, value: int | None) -> None:
        self._max_payload = value
        self._limit = _UNLIMITED if value is None else value
        self.known_sizes.clear()

    def msg(self, line: bytes) -> MsgHead:
        """``MSG <subject> <sid> [reply] <size>``."""
        args = line.split()
        if len(args) == 4:
            _, subject, sid, size_field = args
            reply = None
        elif len(args) == 5:
            _, subject, sid, reply, size_field = args
        else:
            raise bad_args(b"MSG", "3 or 4", line)
        size = self.known_sizes.get(size_field)
        if size is None:
            size = self._size(size_field, line)
        return subject, sid, reply, size

    def hmsg(self, line: bytes) -> HMsgHead:
        """``HMSG <subject> <sid> [reply] <header size> <total size>``."""
        args = line.split()
        if len(args) == 5:
            _, subject, sid, header_field, size_field = args
            reply = None
        elif len(args) == 6:
            _, subject, sid, reply, header_field, size_field = args
        else:
            raise bad_args(b"HMSG", "4 or 5", line)
        header_size, size = self._header_sizes(header_field, size_field, line)
        return subject, sid, reply, header_size, size

    def pub(self, line: bytes) -> PubHead:
        """``PUB <subject> [reply] <size>``."""
        args = line.split()
        if len(args) == 3:
            _, subject, size_field = args
            reply = None
        elif len(args) == 4:
            _, subject, reply, size_field = args
        else:
            raise bad_args(b"PUB", "2 or 3", line)
        return subject, reply, self._size(size_field, line)

    def hpub(self, line: bytes) -> HPubHead:
        """``HPUB <subject> [reply] <header size> <total size>``."""
        args = line.split()
        if len(args) == 4:
            _, subject, header_field, size_field = args
            reply = None
        elif len(args) == 5:
            _, subject, reply, header_field, size_field = args
        else:
            raise bad_args(b"HPUB", "3 or 4", line)
        header_size, size = self._header_sizes(header_field, size_field, line)
        return subject, reply, header_size, size

    def _size(self, field: bytes, line: bytes) -> int:
        if not field.isdigit():
            raise bad_size(line)
        size = int(field)
        self._check_limit(size, line)
        if len(self.known_sizes) < _SIZE_CACHE_ENTRIES:
            self.known_sizes[field] = size
        return size

    def _header_sizes(self, header_field: bytes, size_field: bytes, line: bytes) -> tuple[int, int]:
        sizes = self.known_sizes
        header_size = sizes.get(header_field)
        size = sizes.get(size_field)
        if header_size is None or size is None:
            if not (header_field.isdigit() and size_field.isdigit()):
                raise bad_size(line)
            header_size, size = int(header_field), int(size_field)
            if header_size <= size:
                self._check_limit(size, line)
                if len(sizes) < _SIZE_CACHE_ENTRIES:
                    sizes[header_field] = header_size
                    sizes[size_field] = size
        # Remembered sizes are digits within the limit, but may come in the wrong order.
        if header_size > size:
            raise RemoteProtocolError(
                f"header size {header_size} exceeds total size {size}: {show(line)}"
            )
        return header_size, size

    def _check_limit(self, size: int, line: bytes) -> None:
        if size > self._limit:
            raise PayloadTooLargeError(
                f"frame announces {size} payload bytes, over the limit of "
                f"{self._max_payload}: {show(line)}"
            )


def show(line: bytes | bytearray | memoryview) -> str:
    """A control line as error messages quote it: its first 80 bytes, without a
    trailing CR."""
    if line[-1:] == b"\r":
        line = line[:-1]
    shown = bytes(line[:80])
    return repr(shown) + ("..." if len(line) > 80 else "")


def bad_args(op: bytes, expected: str, line: bytes) -> RemoteProtocolError:
    """The error for a control line with the wrong number of arguments."""
    return RemoteProtocolError(
        f"{op.decode()} takes {expected} arguments, got {len(line.split()) - 1}: {show(line)}"
    )


def bad_size(line: bytes) -> RemoteProtocolError:
    """The error for a size field that is not decimal digits."""
    return RemoteProtocolError(f"size is not a non-negative decimal number: {show(line)}")
