"""The incremental, sans-IO parser of NATS frames.

``Parser(role).receive_data(data)`` takes whatever bytes arrived and returns the
frames they complete. Bytes that do not complete a frame are kept for the next
call. The grammar is nats-server's, which is more lenient than the docs: operation
names in any case, spaces or tabs (in runs) between arguments, a bare LF ending a
control line, anything after PING/PONG/+OK ignored; but sizes are digits only and
the two bytes after a payload must be CRLF.

Cost model: the common case (a chunk that starts on a frame boundary) parses out of
the received ``bytes`` without copying it, slicing each payload once; a chunk of
small frames over 32 KiB is split a window at a time, one more copy that keeps the
pieces in the CPU cache. Bytes left over at the end of a call are kept in a
``bytearray``; a line end is never searched for twice in the same bytes, and a large
payload that spans many reads is copied once out of that buffer, so byte-at-a-time
input stays linear.
"""

from __future__ import annotations

import enum
import json
from typing import Any

from .errors import ControlLineTooLongError, PayloadTooLargeError, RemoteProtocolError
from .frames import (
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
    Pub,
    Sub,
    Unsub,
)
from .limits import DEFAULT_CLIENT_MAX_CONTROL_LINE, DEFAULT_MAX_CONTROL_LINE

_HEADER_PREFIX = b"NATS/1.0"
_HEADER_END = b"\r\n\r\n"
_SEPARATORS = (0x20, 0x09)
_CR = 0x0D
_LF = 0x0A
_SPACE = 0x20
# A payload that has to be gathered over several reads is copied straight out of
# the receive buffer once it reaches this size, instead of copying the buffer first.
_LARGE_PENDING_FRAME = 64 * 1024
_SIZE_CACHE_ENTRIES = 1024
# MSG control lines repeat (one subject, sid and size): remember this many parsed ones.
_HEAD_CACHE_ENTRIES = 256
# Average bytes per frame above which a chunk is parsed by offsets rather than split.
_LARGE_FRAME_AVERAGE = 256
# Bytes of a large chunk split at a time (see _parse_client_windows).
_SPLIT_WINDOW = 32 * 1024
_UNLIMITED = 1 << 62


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

    __slots__ = (
        "_buffer",
        "_by_offsets",
        "_client_role",
        "_error",
        "_heads",
        "_max_payload",
        "_needed",
        "_pending",
        "_role",
        "_searched",
        "_size_limit",
        "_sizes",
        "max_control_line",
    )

    def __init__(
        self,
        role: Role = Role.CLIENT,
        *,
        max_control_line: int | None = None,
        max_payload: int | None = None,
    ) -> None:
        if max_control_line is None:
            max_control_line = (
                DEFAULT_CLIENT_MAX_CONTROL_LINE if role is Role.CLIENT else DEFAULT_MAX_CONTROL_LINE
            )
        self._role = role
        self._client_role = role is Role.CLIENT
        self.max_control_line = max_control_line
        self._max_payload = max_payload
        self._size_limit = _UNLIMITED if max_payload is None else max_payload
        self._buffer = bytearray()
        # How many leading bytes of the buffer are known to hold no line end.
        self._searched = 0
        # While a payload is incomplete: the size of the whole pending frame.
        self._needed = 0
        self._error: RemoteProtocolError | None = None
        # Payload sizes repeat: remember the few seen most to skip int() on bytes.
        self._sizes: dict[bytes, int] = {}
        # MSG control line -> (subject, sid, reply, size), each line checked as the MSG
        # loop checks it; None once lines stopped repeating.
        self._heads: dict[bytes, tuple[bytes, bytes, bytes | None, int]] | None = {}
        # Whether recent frames were large or HMSG; None until the first frames are seen.
        self._by_offsets: bool | None = None

    @property
    def role(self) -> Role:
        """Which side of the connection this parser reads for."""
        return self._role

    @property
    def max_payload(self) -> int | None:
        """The largest payload a frame may announce, or None for no limit."""
        return self._max_payload

    @max_payload.setter
    def max_payload(self, value: int | None) -> None:
        self._max_payload = value
        self._size_limit = _UNLIMITED if value is None else value
        self._sizes.clear()
        if self._heads is not None:
            self._heads.clear()

    @property
    def buffered(self) -> int:
        """How many received bytes wait for the rest of their frame."""
        return len(self._buffer)

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Parse ``data`` and return every frame it completes, in order."""
        if self._error is not None:
            raise RemoteProtocolError(f"parser stopped after an earlier error: {self._error}")
        frames: list[Frame] = []
        try:
            return self._receive(data, frames)
        except RemoteProtocolError as exc:
            exc.frames = frames
            self._error = exc
            raise
        except Exception as exc:
            error = RemoteProtocolError(f"cannot parse input: {exc!r}")
            error.frames = frames
            self._error = error
            raise error from exc

    def _receive(self, data: bytes | bytearray | memoryview, frames: list[Frame]) -> list[Frame]:
        buffer = self._buffer
        if not buffer:
            if not data:
                return frames
            chunk = data if type(data) is bytes else bytes(data)
        else:
            if type(data) is not bytes:
                data = bytes(data)
            needed = self._needed
            if needed and len(buffer) + len(data) < needed:
                buffer += data
                return frames
            if 0 < needed < _LARGE_PENDING_FRAME:
                # The waiting frame is complete: one copy joins it to what follows.
                chunk = b"".join((buffer, data))
            else:
                buffer += data
                if needed:
                    frames.append(self._take_pending_frame())
                    if not buffer:
                        return frames
                elif buffer.find(b"\n", self._searched) < 0:
                    self._searched = len(buffer)
                    if len(buffer) > self.max_control_line:
                        raise self._line_too_long(len(buffer))
                    return frames
                chunk = bytes(buffer)
            buffer.clear()
        self._needed = 0
        if self._client_role:
            before = len(frames)
            by_offsets = self._by_offsets
            if by_offsets is None:
                by_offsets = _opens_with_offsets_frame(chunk)
            if by_offsets:
                pos = self._parse_client_offsets(chunk, 0, frames)
            else:
                pos = self._parse_client_windows(chunk, frames)
            # Splitting at every CRLF scans payload bytes and cuts header blocks into
            # lines: for large frames and HMSG, jumping from frame to frame by offsets
            # costs less. Frames in a stream tend to stay alike.
            parsed = len(frames) - before
            if parsed:
                self._by_offsets = pos > _LARGE_FRAME_AVERAGE * parsed or type(frames[-1]) is HMsg
        else:
            pos = self._parse_server(chunk, frames)
        if pos < len(chunk):
            buffer += memoryview(chunk)[pos:]
            self._searched = len(buffer)
        return frames

    def _take_pending_frame(self) -> Frame:
        """Cut the completed pending frame off the buffer, copying its payload once."""
        buffer = self._buffer
        needed = self._needed
        frame, header_size = self._pending
        start = buffer.find(b"\n") + 1
        with memoryview(buffer) as view:
            _complete(frame, header_size, view, start, needed - 2, bytes(buffer[: start - 1]))
        del buffer[:needed]
        self._needed = 0
        self._searched = 0
        return frame

    def _wait_for_payload(self, frame: Frame, header_size: int, needed: int) -> None:
        self._pending = (frame, header_size)
        self._needed = needed

    def _line_too_long(self, length: int) -> ControlLineTooLongError:
        return ControlLineTooLongError(
            f"control line of {length} bytes exceeds the limit of {self.max_control_line} bytes"
        )

    def _check_size(self, size: int, line: bytes) -> None:
        if size > self._size_limit:
            raise PayloadTooLargeError(
                f"frame announces {size} payload bytes, over the limit of "
                f"{self._max_payload}: {_show(line)}"
            )

    def _parse_client_windows(self, chunk: bytes, frames: list[Frame]) -> int:
        """Parse server-to-client frames a window at a time; return the offset of the
        first unused byte.

        Splitting a big chunk at once makes two objects per frame before the first
        frame is built; a window's worth of them stays in the CPU cache instead.
        """
        length = len(chunk)
        # A window must be shorter than the longest line allowed, or it is not split.
        window = min(_SPLIT_WINDOW, self.max_control_line - 1)
        if length <= window:
            return self._parse_client(chunk, frames)
        pos = 0
        while length - pos > window:
            used = self._parse_client(chunk[pos : pos + window], frames)
            # A frame cut by the window's end starts the next window, not a wait.
            self._needed = 0
            if not used:
                break
            pos += used
        return pos + self._parse_client(chunk[pos:], frames)

    def _parse_client(self, chunk: bytes, frames: list[Frame]) -> int:
        """Parse server-to-client frames; return the offset of the first unused byte.

        The chunk is split at every CRLF in one C-level pass. A MSG control line is
        then one piece and, unless its payload holds a CRLF itself, its payload is the
        next piece: no search, no slicing, one copy made by the split. A control line
        seen before is looked up instead of split again (subject, sid, reply and size are
        then shared with the earlier frames); the cache is dropped once it is full, as
        lines with unique reply subjects never repeat. The MSG loop moves a piece index
        only; byte offsets are summed from piece lengths when a frame needs them.
        Anything else (HMSG, other operations, payloads holding CRLF) is parsed by
        offsets and the piece index catches up. A chunk holding a line ended by a lone
        LF, or long enough to hold an over-long line, is parsed by offsets alone.
        """
        pieces = chunk.split(b"\r\n")
        last = len(pieces) - 1
        if len(chunk) >= self.max_control_line or chunk.count(b"\n") != last:
            return self._parse_client_offsets(chunk, 0, frames)
        append = frames.append
        new_msg = Msg.__new__
        new_hmsg = HMsg.__new__
        sizes = self._sizes
        heads = self._heads
        size: int | None
        index = 0
        # Piece ``mark`` starts at byte ``marked``.
        mark = marked = 0
        while True:
            while index < last:
                line = pieces[index]
                head = heads.get(line) if heads is not None else None
                if head is not None:
                    subject, sid, reply, size = head
                else:
                    args = line.split()
                    nargs = len(args)
                    # MSG as the server writes it: upper case, one space after the
                    # operation. Anything else (tabs, lower case, bad argument counts)
                    # leaves this loop.
                    if nargs == 4 and args[0] == b"MSG" and line[3] == _SPACE:
                        _, subject, sid, size_field = args
                        reply = None
                    elif nargs == 5 and args[0] == b"MSG" and line[3] == _SPACE:
                        _, subject, sid, reply, size_field = args
                    else:
                        break
                    size = sizes.get(size_field)
                    if size is None:
                        size = self._parse_size(size_field, line)
                        self._check_size(size, line)
                    if heads is not None:
                        if len(heads) < _HEAD_CACHE_ENTRIES:
                            heads[line] = (subject, sid, reply, size)
                        else:
                            # Lines do not repeat (unique reply subjects, say): stop
                            # looking them up.
                            heads = self._heads = None
                payload = pieces[index + 1]
                if len(payload) != size:
                    args = line.split()
                    break
                msg = new_msg(Msg)
                msg.subject = subject
                msg.sid = sid
                msg.reply = reply
                msg.payload = payload
                append(msg)
                index += 2
            else:
                if index > last:
                    # That payload was the unterminated tail: its CRLF has not arrived.
                    frames.pop()
                    index -= 2
                    args = pieces[index].split()
                else:
                    break
            if mark != index:
                marked = _offset(pieces, mark, marked, index, len(chunk))
                mark = index
            if index == last:
                break
            line = pieces[index]
            nargs = len(args)
            start = marked + len(line) + 2
            if 5 <= nargs <= 6 and args[0] == b"HMSG" and line[4] == _SPACE:
                # Headers hold CRLFs, so the body spans pieces: cut it by offsets.
                if nargs == 5:
                    _, subject, sid, header_field, size_field = args
                    reply = None
                else:
                    _, subject, sid, reply, header_field, size_field = args
                header_size = sizes.get(header_field)
                if header_size is None:
                    header_size = self._parse_size(header_field, line)
                size = sizes.get(size_field)
                if size is None:
                    size = self._parse_size(size_field, line)
                    self._check_size(size, line)
                end = start + size
                if header_size <= size and chunk[end : end + 2] == b"\r\n":
                    split = start + header_size
                    raw_headers = chunk[start:split]
                    if raw_headers[:8] == _HEADER_PREFIX and raw_headers[-4:] == _HEADER_END:
                        hmsg = new_hmsg(HMsg)
                        hmsg.subject = subject
                        hmsg.sid = sid
                        hmsg.reply = reply
                        hmsg.raw_headers = raw_headers
                        hmsg.payload = payload = chunk[split:end]
                        append(hmsg)
                        # Neither block can share a CRLF with its neighbours, so the
                        # frame spans this many pieces.
                        index += 2 + raw_headers.count(b"\r\n") + payload.count(b"\r\n")
                        marked = end + 2
                        mark = index
                        continue
            following = self._parse_client_frame(chunk, marked, start - 1, args, frames)
            if following < 0:
                return -following - 1
            while marked < following and mark < last:
                marked += len(pieces[mark]) + 2
                mark += 1
            if marked != following:
                return self._parse_client_offsets(chunk, following, frames)
            index = mark
        return _offset(pieces, mark, marked, index, len(chunk))

    def _parse_client_offsets(self, chunk: bytes, pos: int, frames: list[Frame]) -> int:
        """Parse server-to-client frames from ``pos`` line by line, finding each line end
        and jumping over payloads: cheaper than splitting when payloads are large or
        frames carry header blocks."""
        max_line = self.max_control_line
        sizes = self._sizes
        append = frames.append
        new_msg = Msg.__new__
        new_hmsg = HMsg.__new__
        find = chunk.find
        length = len(chunk)
        while pos < length:
            eol = find(b"\n", pos)
            if not 0 <= eol - pos <= max_line:
                if eol >= 0:
                    raise self._line_too_long(eol - pos)
                if length - pos > max_line:
                    raise self._line_too_long(length - pos)
                return pos
            args = chunk[pos:eol].split()
            nargs = len(args)
            if (nargs == 4 or nargs == 5) and args[0] == b"MSG" and chunk[pos + 3] == _SPACE:
                size = sizes.get(args[-1])
                if size is not None:
                    start = eol + 1
                    end = start + size
                    if end + 2 > length:
                        if end + 2 - pos < _LARGE_PENDING_FRAME:
                            # Parsed again once complete: only a large frame keeps its
                            # head (see _take_pending_frame).
                            self._needed = end + 2 - pos
                            return pos
                    elif chunk[end] == _CR and chunk[end + 1] == _LF:
                        msg = new_msg(Msg)
                        msg.subject = args[1]
                        msg.sid = args[2]
                        msg.reply = args[3] if nargs == 5 else None
                        msg.payload = chunk[start:end]
                        append(msg)
                        pos = end + 2
                        continue
            elif (nargs == 5 or nargs == 6) and args[0] == b"HMSG" and chunk[pos + 4] == _SPACE:
                header_size = sizes.get(args[-2])
                size = sizes.get(args[-1])
                if header_size is None or size is None:
                    line = chunk[pos:eol]
                    header_size = self._parse_size(args[-2], line)
                    size = self._parse_size(args[-1], line)
                    self._check_size(size, line)
                start = eol + 1
                end = start + size
                if header_size <= size:
                    if end + 2 > length:
                        if end + 2 - pos < _LARGE_PENDING_FRAME:
                            # Parsed again once complete, as a small MSG is.
                            self._needed = end + 2 - pos
                            return pos
                    elif chunk[end] == _CR:
                        split = start + header_size
                        raw_headers = chunk[start:split]
                        if (
                            chunk[end + 1] == _LF
                            and raw_headers[:8] == _HEADER_PREFIX
                            and raw_headers[-4:] == _HEADER_END
                        ):
                            hmsg = new_hmsg(HMsg)
                            hmsg.subject = args[1]
                            hmsg.sid = args[2]
                            hmsg.reply = args[3] if nargs == 6 else None
                            hmsg.raw_headers = raw_headers
                            hmsg.payload = chunk[split:end]
                            append(hmsg)
                            pos = end + 2
                            continue
            pos = self._parse_client_frame(chunk, pos, eol, args, frames)
            if pos < 0:
                return -pos - 1
        return pos

    def _parse_client_frame(
        self, chunk: bytes, pos: int, eol: int, args: list[bytes], frames: list[Frame]
    ) -> int:
        """Parse the frame whose control line spans ``pos`` to the LF at ``eol``; return
        the offset after it, or ``-pos - 1`` if its payload is incomplete."""
        if not args:
            raise _unknown_operation(chunk[pos:eol])
        line = chunk[pos:eol]
        op = line[:4].upper()
        if op == b"HMSG" and _separated(line, 4):
            if len(args) == 5:
                _, subject, sid, header_field, size_field = args
                reply = None
            elif len(args) == 6:
                _, subject, sid, reply, header_field, size_field = args
            else:
                raise _bad_args(b"HMSG", "4 or 5", line)
            header_size, size = _header_sizes(header_field, size_field, line)
            self._check_size(size, line)
            end = eol + 1 + size
            if end + 2 > len(chunk):
                self._wait_for_payload(
                    HMsg(subject, sid, reply, b"", b""), header_size, end + 2 - pos
                )
                return -pos - 1
            frame = HMsg(subject, sid, reply, b"", b"")
            _complete(frame, header_size, chunk, eol + 1, end, line)
            frames.append(frame)
            return end + 2
        if op[:3] == b"MSG" and _separated(line, 3):
            if len(args) == 4:
                _, subject, sid, size_field = args
                reply = None
            elif len(args) == 5:
                _, subject, sid, reply, size_field = args
            else:
                raise _bad_args(b"MSG", "3 or 4", line)
            size = self._parse_size(size_field, line)
            self._check_size(size, line)
            end = eol + 1 + size
            if end + 2 > len(chunk):
                self._wait_for_payload(Msg(subject, sid, reply, b""), 0, end + 2 - pos)
                return -pos - 1
            message = Msg(subject, sid, reply, b"")
            _complete(message, 0, chunk, eol + 1, end, line)
            frames.append(message)
            return end + 2
        if op == b"PING":
            frames.append(PING)
        elif op == b"PONG":
            frames.append(PONG)
        elif op[:3] == b"+OK":
            frames.append(OK)
        elif op == b"-ERR" and _separated(line, 4):
            frames.append(Err(_error_text(line[5:])))
        elif op == b"INFO":
            frames.append(Info(_json_object(line[4:], line)))
        else:
            raise _unknown_operation(line)
        return eol + 1

    def _parse_size(self, field: bytes, line: bytes) -> int:
        if not field.isdigit():
            raise _bad_size(line)
        size = int(field)
        # Only sizes within the limit are cached, so a cache hit needs no check.
        if len(self._sizes) < _SIZE_CACHE_ENTRIES and size <= self._size_limit:
            self._sizes[field] = size
        return size

    def _parse_server(self, chunk: bytes, frames: list[Frame]) -> int:
        """Parse client-to-server frames; return the offset of the first unused byte."""
        find = chunk.find
        append = frames.append
        max_line = self.max_control_line
        length = len(chunk)
        pos = 0
        while pos < length:
            eol = find(b"\n", pos)
            if eol < 0:
                if length - pos > max_line:
                    raise self._line_too_long(length - pos)
                return pos
            if eol - pos > max_line:
                raise self._line_too_long(eol - pos)
            line = chunk[pos:eol]
            op = line[:4].upper()
            frame: Pub | HPub
            if op[:3] == b"PUB" and _separated(line, 3):
                args = line[4:].split()
                if len(args) == 2:
                    subject, size_field = args
                    reply = None
                elif len(args) == 3:
                    subject, reply, size_field = args
                else:
                    raise _bad_args(b"PUB", "2 or 3", line)
                if not size_field.isdigit():
                    raise _bad_size(line)
                header_size, size = 0, int(size_field)
                frame = Pub(subject, reply, b"")
            elif op == b"HPUB" and _separated(line, 4):
                args = line[5:].split()
                if len(args) == 3:
                    subject, header_field, size_field = args
                    reply = None
                elif len(args) == 4:
                    subject, reply, header_field, size_field = args
                else:
                    raise _bad_args(b"HPUB", "3 or 4", line)
                header_size, size = _header_sizes(header_field, size_field, line)
                frame = HPub(subject, reply, b"", b"")
            else:
                if op[:3] == b"SUB" and _separated(line, 3):
                    args = line[4:].split()
                    if len(args) == 2:
                        append(Sub(args[0], None, args[1]))
                    elif len(args) == 3:
                        append(Sub(args[0], args[1], args[2]))
                    else:
                        raise _bad_args(b"SUB", "2 or 3", line)
                elif op == b"UNSU" and line[4:5].upper() == b"B" and _separated(line, 5):
                    args = line[6:].split()
                    if len(args) == 1:
                        append(Unsub(args[0], None))
                    elif len(args) == 2 and args[1].isdigit():
                        append(Unsub(args[0], int(args[1])))
                    elif len(args) == 2:
                        raise RemoteProtocolError(f"UNSUB max_msgs is not a number: {_show(line)}")
                    else:
                        raise _bad_args(b"UNSUB", "1 or 2", line)
                elif op == b"PING":
                    append(PING)
                elif op == b"PONG":
                    append(PONG)
                elif op == b"CONN" and line[4:7].upper() == b"ECT":
                    append(Connect(_json_object(line[7:], line)))
                else:
                    raise _unknown_operation(line)
                pos = eol + 1
                continue
            self._check_size(size, line)
            end = eol + 1 + size
            if end + 2 > length:
                self._wait_for_payload(frame, header_size, end + 2 - pos)
                return pos
            _complete(frame, header_size, chunk, eol + 1, end, line)
            append(frame)
            pos = end + 2
        return pos


def _complete(
    frame: Frame,
    header_size: int,
    data: bytes | memoryview,
    start: int,
    end: int,
    line: bytes,
) -> None:
    """Check the trailer of a payload frame and fill in its headers and payload."""
    if data[end] != _CR or data[end + 1] != _LF:
        raise _bad_trailer(line)
    if isinstance(frame, (HMsg, HPub)):
        raw_headers = bytes(data[start : start + header_size])
        _check_header_block(raw_headers, line)
        frame.raw_headers = raw_headers
        frame.payload = bytes(data[start + header_size : end])
    elif isinstance(frame, (Msg, Pub)):
        frame.payload = bytes(data[start:end])


def _offset(pieces: list[bytes], mark: int, marked: int, index: int, length: int) -> int:
    """The offset of ``pieces[index]`` in the bytes of ``length`` that were split at
    CRLF into ``pieces``, given that ``pieces[mark]`` starts at ``marked``: summed
    from the mark or back from the end, whichever spans fewer pieces."""
    last = len(pieces) - 1
    if index - mark <= last - index:
        return marked + sum(map(len, pieces[mark:index])) + 2 * (index - mark)
    return length - sum(map(len, pieces[index:])) - 2 * (last - index)


def _opens_with_offsets_frame(chunk: bytes) -> bool:
    """Whether the chunk opens with an HMSG, or a MSG whose payload is over the
    large-frame average: frames the offsets path parses for less."""
    if chunk[:5] == b"HMSG ":
        return True
    args = chunk[: chunk.find(b"\n", 0, 1024)].split()
    size = args[-1] if len(args) in (4, 5) and args[0] == b"MSG" else b""
    return size.isdigit() and (len(size) > 9 or int(size) > _LARGE_FRAME_AVERAGE)


def _separated(line: bytes, index: int) -> bool:
    """Whether the operation name ending at ``index`` is followed by a space or tab."""
    return len(line) > index and line[index] in _SEPARATORS


def _header_sizes(header_field: bytes, size_field: bytes, line: bytes) -> tuple[int, int]:
    if not (header_field.isdigit() and size_field.isdigit()):
        raise _bad_size(line)
    header_size, size = int(header_field), int(size_field)
    if header_size > size:
        raise RemoteProtocolError(
            f"header size {header_size} exceeds total size {size}: {_show(line)}"
        )
    return header_size, size


def _check_header_block(raw_headers: bytes, line: bytes) -> None:
    if not (raw_headers.startswith(_HEADER_PREFIX) and raw_headers.endswith(_HEADER_END)):
        raise RemoteProtocolError(
            f"header block is not a NATS/1.0 block ending in a blank line: {_show(line)}"
        )


def _error_text(argument: bytes) -> str:
    text = argument.strip()
    if len(text) >= 2 and text[:1] == text[-1:] and text[:1] in (b"'", b'"'):
        text = text[1:-1]
    return text.decode("utf-8", "replace")


def _json_object(argument: bytes, line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(argument)
    except ValueError as exc:
        raise RemoteProtocolError(f"invalid JSON ({exc}): {_show(line)}") from None
    if not isinstance(value, dict):
        raise RemoteProtocolError(f"expected a JSON object: {_show(line)}")
    return value


def _show(line: bytes) -> str:
    shown = bytes(line[:80])
    return repr(shown) + ("..." if len(line) > 80 else "")


def _bad_args(op: bytes, expected: str, line: bytes) -> RemoteProtocolError:
    return RemoteProtocolError(
        f"{op.decode()} takes {expected} arguments, got {len(line.split()) - 1}: {_show(line)}"
    )


def _bad_size(line: bytes) -> RemoteProtocolError:
    return RemoteProtocolError(f"size is not a non-negative decimal number: {_show(line)}")


def _bad_trailer(line: bytes) -> RemoteProtocolError:
    return RemoteProtocolError(f"payload is not followed by CRLF (framing lost): {_show(line)}")


def _unknown_operation(line: bytes) -> RemoteProtocolError:
    return RemoteProtocolError(f"unknown protocol operation: {_show(line)}")
