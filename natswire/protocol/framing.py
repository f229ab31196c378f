"""What the client-role and server-role frame readers share.

A reader parses a chunk from an offset on a frame boundary and returns the offset of
the first byte it did not use; :class:`~natswire.protocol.parser.Parser` keeps the rest.
When the frame at that offset waits for its payload, the reader says how many bytes
the whole frame needs (``needed``) and keeps its parsed head, so that the frame is
completed from the bytes it lacks without parsing its head again: its payload copied
straight out of the receive buffer (:meth:`FrameReader.take_pending`), or joined from
the bytes the parser kept whole and the read that completes it
(:meth:`FrameReader.take_pending_from`).
"""

from __future__ import annotations

import enum
import json
from typing import Any, Final

from .errors import ControlLineTooLongError, RemoteProtocolError
from .frames import Frame, HMsg, HPub, Msg, Pub
from .heads import HeadDecoder, show

HEADER_PREFIX: Final = b"NATS/1.0"
HEADER_END: Final = b"\r\n\r\n"
SEPARATORS: Final = (0x20, 0x09)
CR: Final = 0x0D
LF: Final = 0x0A
SPACE: Final = 0x20
#: Frames up to this size are completed from copies, cheaper than memoryviews of them.
SMALL_FRAME: Final = 4096


class NeedData(enum.Enum):
    """The type of :data:`NEED_DATA`."""

    NEED_DATA = "need data"


#: Returned instead of an offset by a frame parser whose frame waits for its payload.
NEED_DATA: Final = NeedData.NEED_DATA


class FrameReader:
    """The part of a role's reader that does not depend on the role: its limits and
    the frame that waits for its payload."""

    __slots__ = ("_decoder", "_pending", "max_control_line", "needed")

    def __init__(self, max_control_line: int, max_payload: int | None) -> None:
        self.max_control_line = max_control_line
        #: While a payload is incomplete: the size of the whole frame; 0 otherwise.
        self.needed = 0
        self._decoder = HeadDecoder(max_payload)

    @property
    def max_payload(self) -> int | None:
        """The largest payload a frame may announce, or None for no limit."""
        return self._decoder.max_payload

    @max_payload.setter
    def max_payload(self, value: int | None) -> None:
        self._decoder.max_payload = value

    def parse(self, chunk: bytes, frames: list[Frame], pos: int = 0) -> int:
        """Append the frames ``chunk`` completes from offset ``pos`` (a frame boundary)
        to ``frames``; return the offset of the first byte not used."""
        raise NotImplementedError

    def take_pending(self, buffer: bytearray) -> Frame:
        """Cut the completed waiting frame off the front of ``buffer``, copying its
        payload out of it (a small frame is copied whole first: cheaper than a view)."""
        needed = self.needed
        frame, header_size, start = self._pending
        if needed <= SMALL_FRAME:
            complete_frame(frame, header_size, bytes(buffer), start, needed - 2)
        else:
            with memoryview(buffer) as view:
                complete_frame(frame, header_size, view, start, needed - 2)
        del buffer[:needed]
        self.needed = 0
        return frame

    def take_pending_from(self, held: bytes, data: bytes, missing: int) -> Frame:
        """Complete the waiting frame from ``held``, its bytes so far, and the first
        ``missing`` bytes of ``data``, which finish it."""
        frame, header_size, start = self._pending
        needed = self.needed
        if (
            missing >= 2
            and type(frame) is Msg
            and data[missing - 2] == CR
            and data[missing - 1] == LF
        ):
            # The common case, checked as complete_frame would check it.
            frame.payload = held[start:] + data[: missing - 2]
            self.needed = 0
            return frame
        complete_frame(frame, header_size, held + data[:missing], start, needed - 2)
        self.needed = 0
        return frame

    def _wait_for_payload(self, frame: Frame, header_size: int, size: int, needed: int) -> None:
        """``frame`` (its head parsed, of ``size`` payload bytes with its headers) waits
        for its payload; it is ``needed`` bytes long in all."""
        self._pending = (frame, header_size, needed - 2 - size)
        self.needed = needed

    def _line_too_long(self, length: int) -> ControlLineTooLongError:
        return line_too_long(length, self.max_control_line)


def line_too_long(length: int, limit: int) -> ControlLineTooLongError:
    """The error for a control line longer than ``limit``."""
    return ControlLineTooLongError(
        f"control line of {length} bytes exceeds the limit of {limit} bytes"
    )


def complete_frame(
    frame: Frame,
    header_size: int,
    data: bytes | memoryview,
    start: int,
    end: int,
    line: bytes | None = None,
) -> None:
    """Check the trailer of a payload frame and fill in its headers and payload.
    ``line`` is its control line, for errors (by default ``data`` up to ``start``)."""
    if data[end] != CR or data[end + 1] != LF:
        raise RemoteProtocolError(
            f"payload is not followed by CRLF (framing lost): {_line(data, start, line)}"
        )
    if isinstance(frame, (HMsg, HPub)):
        raw_headers = bytes(data[start : start + header_size])
        if not (raw_headers.startswith(HEADER_PREFIX) and raw_headers.endswith(HEADER_END)):
            raise RemoteProtocolError(
                "header block is not a NATS/1.0 block ending in a blank line: "
                + _line(data, start, line)
            )
        frame.raw_headers = raw_headers
        frame.payload = bytes(data[start + header_size : end])
    elif isinstance(frame, (Msg, Pub)):
        frame.payload = bytes(data[start:end])


def _line(data: bytes | memoryview, start: int, line: bytes | None) -> str:
    return show(bytes(data[: start - 1]) if line is None else line)


def separated(line: bytes, index: int) -> bool:
    """Whether the operation name ending at ``index`` is followed by a space or tab."""
    return len(line) > index and line[index] in SEPARATORS


def error_text(argument: bytes) -> str:
    """The text of an ``-ERR``: stripped, and without one pair of enclosing quotes."""
    text = argument.strip()
    if len(text) >= 2 and text[:1] == text[-1:] and text[:1] in (b"'", b'"'):
        text = text[1:-1]
    return text.decode("utf-8", "replace")


def json_object(argument: bytes, line: bytes) -> dict[str, Any]:
    """The JSON object of an INFO or CONNECT line."""
    try:
        value = json.loads(argument)
    except ValueError as exc:
        raise RemoteProtocolError(f"invalid JSON ({exc}): {show(line)}") from None
    if not isinstance(value, dict):
        raise RemoteProtocolError(f"expected a JSON object: {show(line)}")
    return value


def unknown_operation(line: bytes) -> RemoteProtocolError:
    """The error for a control line that starts with no operation of the role."""
    return RemoteProtocolError(f"unknown protocol operation: {show(line)}")
