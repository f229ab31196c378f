"""The server role's reader: what a client sends (CONNECT, PUB, HPUB, SUB, UNSUB, PING,
PONG). It serves the in-memory fake server of the tests and the fuzzer's round trips,
so it is written plainly rather than fast."""

from __future__ import annotations

from .errors import RemoteProtocolError
from .frames import PING, PONG, Connect, Frame, HPub, Pub, Sub, Unsub
from .framing import FrameReader, complete_frame, json_object, separated, unknown_operation
from .heads import bad_args, show


class ServerFrameReader(FrameReader):
    """Parses client-to-server frames (see :class:`FrameReader`)."""

    __slots__ = ()

    def parse(self, chunk: bytes, frames: list[Frame], pos: int = 0) -> int:
        """Append the frames ``chunk`` completes from offset ``pos`` to ``frames``;
        return the offset of the first byte not used."""
        find = chunk.find
        append = frames.append
        max_line = self.max_control_line
        decoder = self._decoder
        length = len(chunk)
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
            if op[:3] == b"PUB" and separated(line, 3):
                subject, reply, size = decoder.pub(line)
                header_size = 0
                frame = Pub(subject, reply, b"")
            elif op == b"HPUB" and separated(line, 4):
                subject, reply, header_size, size = decoder.hpub(line)
                frame = HPub(subject, reply, b"", b"")
            else:
                append(_frame_without_payload(line, op))
                pos = eol + 1
                continue
            end = eol + 1 + size
            if end + 2 > length:
                self._wait_for_payload(frame, header_size, size, end + 2 - pos)
                return pos
            complete_frame(frame, header_size, chunk, eol + 1, end, line)
            append(frame)
            pos = end + 2
        return pos


def _frame_without_payload(line: bytes, op: bytes) -> Frame:
    """SUB, UNSUB, PING, PONG or CONNECT; ``op`` is the line's first four bytes, upper
    case."""
    if op[:3] == b"SUB" and separated(line, 3):
        args = line[4:].split()
        if len(args) == 2:
            return Sub(args[0], None, args[1])
        if len(args) == 3:
            return Sub(args[0], args[1], args[2])
        raise bad_args(b"SUB", "2 or 3", line)
    if op == b"UNSU" and line[4:5].upper() == b"B" and separated(line, 5):
        args = line[6:].split()
        if len(args) == 1:
            return Unsub(args[0], None)
        if len(args) == 2 and args[1].isdigit():
            return Unsub(args[0], int(args[1]))
        if len(args) == 2:
            raise RemoteProtocolError(f"UNSUB max_msgs is not a number: {show(line)}")
        raise bad_args(b"UNSUB", "1 or 2", line)
    if op == b"PING":
        return PING
    if op == b"PONG":
        return PONG
    if op == b"CONN" and line[4:7].upper() == b"ECT":
        return Connect(json_object(line[7:], line))
    raise unknown_operation(line)
