"""The incremental, sans-IO parser of NATS frames.

``Parser(role).receive_data(data)`` takes whatever bytes arrived and returns the
frames they complete. Bytes that do not complete a frame are kept for the next
call. The grammar is nats-server's, which is more lenient than the docs: operation
names in any case, spaces or tabs (in runs) between arguments, a bare LF ending a
control line, anything after PING/PONG/+OK ignored; but sizes are digits only and
the two bytes after a payload must be CRLF.

This module owns the receive buffer; each role's reader parses frames
(:mod:`.client_role`, :mod:`.server_role`), and the arguments of MSG, HMSG, PUB and
HPUB lines are decoded in one place (:mod:`.heads`).

Cost model: the common case (a chunk that starts on a frame boundary) parses out of
the received ``bytes`` without copying it, slicing each payload once; a chunk of
small frames over 32 KiB is split a window at a time, one more copy that keeps the
pieces in the CPU cache. Bytes left over at the end of a call are kept in a
``bytearray``; a line end is never searched for twice in the same bytes. A frame cut
by the end of a read keeps its parsed head: later reads add only the bytes it lacks,
and its payload is copied once out of that buffer, so its head is never parsed twice
and byte-at-a-time input stays linear. A frame cut with at most 4 KiB of it read keeps
those bytes as they came instead; when the next read completes it, its payload is
joined from the two pieces, and that read is parsed in place from the frame after it
(a read that does not complete it moves both into the buffer).
"""

from __future__ import annotations

import enum

from .client_role import ClientFrameReader
from .errors import RemoteProtocolError
from .frames import Frame
from .framing import SMALL_FRAME, FrameReader, line_too_long
from .limits import DEFAULT_CLIENT_MAX_CONTROL_LINE, DEFAULT_MAX_CONTROL_LINE


class Role(enum.Enum):
    """Which side of the connection the parser reads for."""

    #: Parse what a server sends: INFO, MSG, HMSG, PING, PONG, +OK, -ERR.
    CLIENT = "client"
    #: Parse what a client sends: CONNECT, PUB, HPUB, SUB, UNSUB, PING, PONG.
    SERVER = "server"


class Parser:
    """Turns received bytes into frames.

    ``max_control_line`` bounds a control line (default 64 KiB for the client role,
    since INFO grows with the cluster, and 4096 for the server role, like
    nats-server); a longer line raises as soon as it is seen. ``max_payload``, when
    set, bounds the size a frame may announce.

    For any input, :meth:`receive_data` returns frames or raises
    :class:`RemoteProtocolError`; after an error the parser refuses more input.
    """

    __slots__ = ("_buffer", "_error", "_held", "_reader", "_role", "_searched")

    def __init__(
        self,
        role: Role = Role.CLIENT,
        *,
        max_control_line: int | None = None,
        max_payload: int | None = None,
    ) -> None:
        self._role = role
        self._reader: FrameReader
        if role is Role.CLIENT:
            self._reader = ClientFrameReader(
                DEFAULT_CLIENT_MAX_CONTROL_LINE if max_control_line is None else max_control_line,
                max_payload,
            )
        else:
            # Only tests and fuzzers read as a server: a client never loads that reader.
            from .server_role import ServerFrameReader

            self._reader = ServerFrameReader(
                DEFAULT_MAX_CONTROL_LINE if max_control_line is None else max_control_line,
                max_payload,
            )
        self._buffer = bytearray()
        # The bytes so far of a small frame that waits for its payload (see
        # receive_data); empty otherwise.
        self._held = b""
        # How many leading bytes of the buffer are known to hold no line end.
        self._searched = 0
        self._error: RemoteProtocolError | None = None

    @property
    def role(self) -> Role:
        """Which side of the connection this parser reads for."""
        return self._role

    @property
    def max_control_line(self) -> int:
        """The longest control line accepted, in bytes (the CR included)."""
        return self._reader.max_control_line

    @property
    def max_payload(self) -> int | None:
        """The largest payload a frame may announce, or None for no limit."""
        return self._reader.max_payload

    @max_payload.setter
    def max_payload(self, value: int | None) -> None:
        self._reader.max_payload = value

    @property
    def buffered(self) -> int:
        """How many received bytes wait for the rest of their frame."""
        return len(self._buffer) + len(self._held)

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Parse ``data`` and return every frame it completes, in order."""
        if self._error is not None:
            raise RemoteProtocolError(f"parser stopped after an earlier error: {self._error}")
        frames: list[Frame] = []
        buffer = self._buffer
        reader = self._reader
        # One function, not two: a Python call costs as much as parsing a small frame.
        try:
            start = 0
            held = self._held
            if held:
                # A small frame waits for its payload, its head parsed and its bytes so
                # far kept whole: it takes only the bytes it lacks.
                if type(data) is not bytes:
                    data = bytes(data)
                missing = reader.needed - len(held)
                if len(data) < missing:
                    # Input in small pieces: gathered in the buffer, which stays linear.
                    self._held = b""
                    buffer += held
                    buffer += data
                    return frames
                self._held = b""
                frames.append(reader.take_pending_from(held, data, missing))
                if len(data) == missing:
                    return frames
                chunk = data
                start = missing
            elif not buffer:
                if not data:
                    return frames
                chunk = data if type(data) is bytes else bytes(data)
            else:
                if type(data) is not bytes:
                    data = bytes(data)
                needed = reader.needed
                if needed:
                    # The frame at the front of the buffer waits for its payload, its
                    # head parsed already: it takes only the bytes it lacks.
                    missing = needed - len(buffer)
                    if len(data) < missing:
                        buffer += data
                        return frames
                    if needed <= SMALL_FRAME:
                        buffer += data[:missing]
                    else:
                        with memoryview(data) as view:
                            buffer += view[:missing]
                    frames.append(reader.take_pending(buffer))
                    if len(data) == missing:
                        return frames
                    chunk = data
                    start = missing
                else:
                    buffer += data
                    if buffer.find(b"\n", self._searched) < 0:
                        self._searched = len(buffer)
                        if len(buffer) > reader.max_control_line:
                            raise line_too_long(len(buffer), reader.max_control_line)
                        return frames
                    chunk = bytes(buffer)
                    buffer.clear()
            pos = reader.parse(chunk, frames, start)
            if pos < len(chunk):
                if len(chunk) - pos <= SMALL_FRAME:
                    if reader.needed:
                        self._held = chunk[pos:]
                        return frames
                    buffer += chunk[pos:]
                else:
                    buffer += memoryview(chunk)[pos:]
                self._searched = len(buffer)
            return frames
        except RemoteProtocolError as exc:
            exc.frames = frames
            self._error = exc
            raise
        except Exception as exc:
            error = RemoteProtocolError(f"cannot parse input: {exc!r}")
            error.frames = frames
            self._error = error
            raise error from exc
