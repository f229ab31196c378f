"""The client role's reader: what a server sends (INFO, MSG, HMSG, PING, PONG, +OK, -ERR).

This is the hottest code of the client. A chunk is parsed one of three ways, chosen
from the frames seen last:

- Small MSG frames: the chunk is split at every CRLF in one C-level pass. A MSG control
  line is then one piece and, unless its payload holds a CRLF itself, its payload is the
  next piece: no search, no slicing, one copy made by the split. A control line seen
  before is looked up instead of decoded again (subject, sid, reply and size are then
  shared with the earlier frames); the cache is dropped once it is full, as lines with
  unique reply subjects never repeat. The loop moves a piece index only; byte offsets
  are summed from piece lengths when a frame needs them. A big chunk is split a window
  at a time, which keeps the pieces in the CPU cache.
- Large frames: each line end is found and payloads are jumped over, which neither
  scans payload bytes nor cuts header blocks into lines.
- A run of HMSG frames (JetStream deliveries): found and jumped over the same way, in a
  loop that reads HMSG alone. A control line seen before is looked up; a header block is
  checked once and shared by the frames that carry it (both caches are dropped once
  full, as JetStream ack replies never repeat). Any other frame hands the rest of the
  chunk to the large-frame loop.

All take the common case inline: MSG and HMSG spelled as the server writes them (upper
case, one space, the right number of arguments), with size fields the one
:class:`~natswire.protocol.heads.HeadDecoder` has accepted before (the HMSG loop asks it
about new ones in place), a whole payload and a good trailer. The decoder judges every
other MSG and HMSG line (new sizes, other spellings, wrong argument counts); the general
frame parser builds anything else and names any error.
"""

from __future__ import annotations

from typing import Final

from .frames import OK, PING, PONG, Err, Frame, HMsg, Info, Msg
from .framing import (
    CR,
    HEADER_END,
    HEADER_PREFIX,
    LF,
    NEED_DATA,
    SPACE,
    FrameReader,
    NeedData,
    complete_frame,
    error_text,
    json_object,
    separated,
    unknown_operation,
)
from .heads import HMsgHead

# MSG control lines repeat (one subject, sid and size): remember this many decoded ones.
_HEAD_CACHE_ENTRIES = 256
# Average bytes per frame above which a chunk is parsed by offsets rather than split.
_LARGE_FRAME_AVERAGE = 256
# Bytes of a large chunk split at a time (see ClientFrameReader._parse_windows).
_SPLIT_WINDOW = 32 * 1024
# How a chunk is parsed: split at CRLF, line by line by offsets, or as a run of HMSGs.
_PIECES: Final = 0
_OFFSETS: Final = 1
_HMSGS: Final = 2
# Header blocks up to this size are remembered (at most _HEAD_CACHE_ENTRIES of them).
_LARGEST_KEPT_BLOCK = 512
# A valid header block with no headers.
_EMPTY_HEADER_BLOCK: Final = HEADER_PREFIX + HEADER_END


class ClientFrameReader(FrameReader):
    """Parses server-to-client frames (see :class:`FrameReader`)."""

    __slots__ = ("_header_blocks", "_heads", "_hmsg_heads", "_known_sizes", "_path", "_window")

    def __init__(self, max_control_line: int, max_payload: int | None) -> None:
        super().__init__(max_control_line, max_payload)
        # The decoder's accepted size fields: a hit is decided (see heads.py).
        self._known_sizes = self._decoder.known_sizes
        # MSG control line -> its decoded head; None once lines stopped repeating.
        self._heads: dict[bytes, tuple[bytes, bytes, bytes | None, int]] | None = {}
        # The same for HMSG control lines (see _parse_hmsgs).
        self._hmsg_heads: dict[bytes, HMsgHead] | None = {}
        # Checked header blocks, each shared by the frames that carry it; None once
        # blocks stopped repeating.
        self._header_blocks: dict[bytes, bytes] | None = {}
        # How the next chunk is parsed (_PIECES, _OFFSETS or _HMSGS), chosen from the
        # frames seen last; None until the first frames are seen.
        self._path: int | None = None
        # Bytes split at a time: a window must be shorter than the longest line
        # allowed, or it is not split (see _parse_pieces).
        self._window = min(_SPLIT_WINDOW, max_control_line - 1)

    @property
    def max_payload(self) -> int | None:
        """The largest payload a frame may announce, or None for no limit."""
        return self._decoder.max_payload

    @max_payload.setter
    def max_payload(self, value: int | None) -> None:
        self._decoder.max_payload = value
        # Remembered heads were checked against the old limit.
        if self._heads is not None:
            self._heads.clear()
        if self._hmsg_heads is not None:
            self._hmsg_heads.clear()

    def parse(self, chunk: bytes, frames: list[Frame], pos: int = 0) -> int:
        """Append the frames ``chunk`` completes from offset ``pos`` (a frame boundary)
        to ``frames``; return the offset of the first byte not used."""
        before = len(frames)
        start = pos
        path = self._path
        if path is None:
            path = _opening_path(chunk[pos:] if pos else chunk)
        if path == _HMSGS:
            pos = self._parse_hmsgs(chunk, pos, frames)
        elif path == _OFFSETS:
            pos = self._parse_offsets(chunk, pos, frames)
        else:
            # Splitting wants the chunk to start on the frame boundary.
            if pos:
                chunk = chunk[pos:]
            if len(chunk) <= self._window:
                pos = start + self._parse_pieces(chunk, frames)
            else:
                pos = start + self._parse_windows(chunk, frames)
        # Frames in a stream tend to stay alike: the next chunk takes the path that
        # suited this one.
        parsed = len(frames) - before
        if parsed:
            if type(frames[-1]) is HMsg:
                self._path = _HMSGS
            else:
                self._path = _OFFSETS if pos - start > _LARGE_FRAME_AVERAGE * parsed else _PIECES
        return pos

    def _parse_windows(self, chunk: bytes, frames: list[Frame]) -> int:
        """Split and parse a chunk a window at a time: splitting a big chunk at once
        makes two objects per frame before the first frame is built."""
        length = len(chunk)
        window = self._window
        pos = 0
        while length - pos > window:
            used = self._parse_pieces(chunk[pos : pos + window], frames)
            # A frame cut by the window's end starts the next window, not a wait.
            self.needed = 0
            if not used:
                break
            pos += used
        return pos + self._parse_pieces(chunk[pos:], frames)

    def _parse_pieces(self, chunk: bytes, frames: list[Frame]) -> int:
        """Parse a chunk split at CRLF (see the module docstring). A chunk holding a line
        ended by a lone LF, or long enough to hold an over-long line, is parsed by
        offsets alone."""
        pieces = chunk.split(b"\r\n")
        last = len(pieces) - 1
        if len(chunk) >= self.max_control_line or chunk.count(b"\n") != last:
            return self._parse_offsets(chunk, 0, frames)
        append = frames.append
        new_msg = Msg.__new__
        new_hmsg = HMsg.__new__
        known_sizes = self._known_sizes
        decode_msg = self._decoder.msg
        heads = self._heads
        size: int | None
        index = 0
        # Piece ``mark`` starts at byte ``marked``.
        mark = marked = 0
        # A MSG cut by the chunk's end, its head parsed: it waits for its payload.
        waiting: Frame | None = None
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
                    # operation, 3 or 4 arguments. Any other line leaves this loop.
                    if nargs == 4 and args[0] == b"MSG" and line[3] == SPACE:
                        _, subject, sid, size_field = args
                        reply = None
                    elif nargs == 5 and args[0] == b"MSG" and line[3] == SPACE:
                        _, subject, sid, reply, size_field = args
                    else:
                        break
                    size = known_sizes.get(size_field)
                    if size is None:
                        # A size not seen before: the decoder judges it.
                        size = decode_msg(line)[3]
                    if heads is not None:
                        if len(heads) < _HEAD_CACHE_ENTRIES:
                            heads[line] = (subject, sid, reply, size)
                        else:
                            # Lines do not repeat (unique reply subjects, say): stop
                            # looking them up.
                            heads = self._heads = None
                payload = pieces[index + 1]
                if len(payload) != size:
                    if index + 1 == last and len(payload) < size + 2:
                        # The chunk ends inside this frame's payload.
                        waiting = msg = new_msg(Msg)
                        msg.subject = subject
                        msg.sid = sid
                        msg.reply = reply
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
                    waiting = frames.pop()
                    index -= 2
                else:
                    break
            if mark != index:
                marked = _offset(pieces, mark, marked, index, len(chunk))
                mark = index
            if waiting is not None:
                assert size is not None  # still the waiting frame's
                self._wait_for_payload(waiting, 0, size, len(pieces[index]) + size + 4)
                return marked
            if index == last:
                break
            line = pieces[index]
            start = marked + len(line) + 2
            if line[:5] == b"HMSG " and (len(args) == 5 or len(args) == 6):
                # Headers hold CRLFs, so the body spans pieces: cut it by offsets. The
                # loop above left at this line, so ``args`` holds its arguments.
                header_size = known_sizes.get(args[-2])
                size = known_sizes.get(args[-1])
                if header_size is None or size is None or header_size > size:
                    _, _, _, header_size, size = self._decoder.hmsg(line)
                end = start + size
                if end + 2 > len(chunk):
                    # Cut by the chunk's end: the head is kept for the rest.
                    hmsg = new_hmsg(HMsg)
                    hmsg.subject = args[1]
                    hmsg.sid = args[2]
                    hmsg.reply = args[3] if len(args) == 6 else None
                    self._wait_for_payload(hmsg, header_size, size, end + 2 - marked)
                    return marked
                if chunk[end : end + 2] == b"\r\n":
                    split = start + header_size
                    raw_headers = chunk[start:split]
                    if raw_headers[:8] == HEADER_PREFIX and raw_headers[-4:] == HEADER_END:
                        hmsg = new_hmsg(HMsg)
                        hmsg.subject = args[1]
                        hmsg.sid = args[2]
                        hmsg.reply = args[3] if len(args) == 6 else None
                        hmsg.raw_headers = raw_headers
                        hmsg.payload = payload = chunk[split:end]
                        append(hmsg)
                        # Neither block can share a CRLF with its neighbours, so the
                        # frame spans this many pieces.
                        index += 2 + raw_headers.count(b"\r\n") + payload.count(b"\r\n")
                        marked = end + 2
                        mark = index
                        continue
            following = self._parse_frame(chunk, marked, start - 1, frames)
            if following is NEED_DATA:
                return marked
            while marked < following and mark < last:
                marked += len(pieces[mark]) + 2
                mark += 1
            if marked != following:
                return self._parse_offsets(chunk, following, frames)
            index = mark
        return _offset(pieces, mark, marked, index, len(chunk))

    def _parse_hmsgs(self, chunk: bytes, pos: int, frames: list[Frame]) -> int:
        """Parse a run of HMSG frames as the server writes them (JetStream deliveries):
        a control line seen before is looked up, any other split once with its sizes
        looked up; a header block seen before is shared, any other checked; header
        block and payload are sliced once. Any other line hands the rest of the chunk
        to :meth:`_parse_offsets`, which judges it."""
        max_line = self.max_control_line
        known_sizes = self._known_sizes
        decode_hmsg = self._decoder.hmsg
        heads = self._hmsg_heads
        blocks = self._header_blocks
        # The block of the frame before, checked: the next frame often carries it too.
        last_block = _EMPTY_HEADER_BLOCK
        append = frames.append
        new_hmsg = HMsg.__new__
        find = chunk.find
        length = len(chunk)
        reply: bytes | None
        header_size: int | None
        size: int | None
        while pos < length:
            eol = find(b"\n", pos)
            if eol < 0 or eol - pos > max_line:
                break
            line = chunk[pos:eol]
            head = heads.get(line) if heads is not None else None
            if head is not None:
                subject, sid, reply, header_size, size = head
            else:
                args = line.split()
                nargs = len(args)
                if nargs == 6:
                    op, subject, sid, reply, header_field, size_field = args
                elif nargs == 5:
                    op, subject, sid, header_field, size_field = args
                    reply = None
                else:
                    break
                if op != b"HMSG" or line[4] != SPACE:
                    break
                header_size = known_sizes.get(header_field)
                size = known_sizes.get(size_field)
                if header_size is None or size is None or header_size > size:
                    # Sizes not seen before (or in the wrong order): the decoder judges.
                    _, _, _, header_size, size = decode_hmsg(line)
                if heads is not None:
                    if len(heads) < _HEAD_CACHE_ENTRIES:
                        heads[line] = (subject, sid, reply, header_size, size)
                    else:
                        # Lines do not repeat (JetStream ack replies): stop looking.
                        heads = self._hmsg_heads = None
            start = eol + 1
            end = start + size
            if end + 2 > length:
                # Cut by the chunk's end: the head is kept for the rest.
                hmsg = new_hmsg(HMsg)
                hmsg.subject = subject
                hmsg.sid = sid
                hmsg.reply = reply
                self._wait_for_payload(hmsg, header_size, size, end + 2 - pos)
                return pos
            if chunk[end] != CR or chunk[end + 1] != LF:
                break
            split = start + header_size
            raw_headers = chunk[start:split]
            if raw_headers == last_block:
                raw_headers = last_block
            else:
                block = blocks.get(raw_headers) if blocks is not None else None
                if block is None:
                    if raw_headers[:8] != HEADER_PREFIX or raw_headers[-4:] != HEADER_END:
                        break
                    block = raw_headers
                    if blocks is not None and header_size <= _LARGEST_KEPT_BLOCK:
                        if len(blocks) < _HEAD_CACHE_ENTRIES:
                            blocks[block] = block
                        else:
                            # Header blocks do not repeat: stop looking them up.
                            blocks = self._header_blocks = None
                raw_headers = last_block = block
            hmsg = new_hmsg(HMsg)
            hmsg.subject = subject
            hmsg.sid = sid
            hmsg.reply = reply
            hmsg.raw_headers = raw_headers
            hmsg.payload = chunk[split:end]
            append(hmsg)
            pos = end + 2
        else:
            return pos
        if eol < 0 and length - pos <= max_line:
            # The chunk ends inside a control line: the rest waits for its line end.
            return pos
        return self._parse_offsets(chunk, pos, frames)

    def _parse_offsets(self, chunk: bytes, pos: int, frames: list[Frame]) -> int:
        """Parse from ``pos`` line by line, finding each line end and jumping over
        payloads: cheaper than splitting when payloads are large or frames carry header
        blocks."""
        max_line = self.max_control_line
        known_sizes = self._known_sizes
        append = frames.append
        new_msg = Msg.__new__
        find = chunk.find
        length = len(chunk)
        heads = self._heads
        while pos < length:
            eol = find(b"\n", pos)
            if not 0 <= eol - pos <= max_line:
                if eol >= 0:
                    raise self._line_too_long(eol - pos)
                if length - pos > max_line:
                    raise self._line_too_long(length - pos)
                return pos
            line = chunk[pos:eol]
            if heads is not None:
                # A MSG line seen before (large payloads on one subject): its head is
                # shared with the earlier frames, not decoded again.
                head = heads.get(line)
                if head is not None:
                    start = eol + 1
                    end = start + head[3]
                    msg = new_msg(Msg)
                    msg.subject, msg.sid, msg.reply, _ = head
                    if end + 2 > length:
                        # Cut by the chunk's end: the head is kept for the rest.
                        self._wait_for_payload(msg, 0, head[3], end + 2 - pos)
                        return pos
                    if chunk[end] == CR and chunk[end + 1] == LF:
                        msg.payload = chunk[start:end]
                        append(msg)
                        pos = end + 2
                        continue
            args = line.split()
            nargs = len(args)
            # MSG and HMSG as the server writes them, inline; sizes not seen before are
            # the decoder's to judge. Any other line goes to the general parser.
            if (nargs == 4 or nargs == 5) and args[0] == b"MSG" and line[3] == SPACE:
                size = known_sizes.get(args[-1])
                if size is None:
                    size = self._decoder.msg(line)[3]
                if heads is not None:
                    if len(heads) < _HEAD_CACHE_ENTRIES:
                        heads[line] = (args[1], args[2], args[3] if nargs == 5 else None, size)
                    else:
                        # Lines do not repeat: stop looking them up (as _parse_pieces).
                        heads = self._heads = None
                start = eol + 1
                end = start + size
                if end + 2 > length:
                    # Cut by the chunk's end: the head is kept for the rest.
                    msg = new_msg(Msg)
                    msg.subject = args[1]
                    msg.sid = args[2]
                    msg.reply = args[3] if nargs == 5 else None
                    self._wait_for_payload(msg, 0, size, end + 2 - pos)
                    return pos
                if chunk[end] == CR and chunk[end + 1] == LF:
                    msg = new_msg(Msg)
                    msg.subject = args[1]
                    msg.sid = args[2]
                    msg.reply = args[3] if nargs == 5 else None
                    msg.payload = chunk[start:end]
                    append(msg)
                    pos = end + 2
                    continue
            elif (nargs == 5 or nargs == 6) and args[0] == b"HMSG" and line[4] == SPACE:
                header_size = known_sizes.get(args[-2])
                size = known_sizes.get(args[-1])
                if header_size is None or size is None or header_size > size:
                    _, _, _, header_size, size = self._decoder.hmsg(line)
                start = eol + 1
                end = start + size
                if end + 2 > length:
                    # Cut by the chunk's end, as a MSG above.
                    hmsg = HMsg.__new__(HMsg)
                    hmsg.subject = args[1]
                    hmsg.sid = args[2]
                    hmsg.reply = args[3] if nargs == 6 else None
                    self._wait_for_payload(hmsg, header_size, size, end + 2 - pos)
                    return pos
                if chunk[end] == CR:
                    split = start + header_size
                    raw_headers = chunk[start:split]
                    if (
                        chunk[end + 1] == LF
                        and raw_headers[:8] == HEADER_PREFIX
                        and raw_headers[-4:] == HEADER_END
                    ):
                        hmsg = HMsg.__new__(HMsg)
                        hmsg.subject = args[1]
                        hmsg.sid = args[2]
                        hmsg.reply = args[3] if nargs == 6 else None
                        hmsg.raw_headers = raw_headers
                        hmsg.payload = chunk[split:end]
                        append(hmsg)
                        pos = end + 2
                        # HMSG lines are never cached: the rest of this chunk is not
                        # looked up (HMSG frames tend to follow one another).
                        heads = None
                        continue
            following = self._parse_frame(chunk, pos, eol, frames)
            if following is NEED_DATA:
                return pos
            pos = following
        return pos

    def _parse_frame(self, chunk: bytes, pos: int, eol: int, frames: list[Frame]) -> int | NeedData:
        """Parse the frame whose control line spans ``pos`` to the LF at ``eol``, in any
        spelling the grammar allows; return the offset after it, or :data:`NEED_DATA`
        if its payload is incomplete."""
        line = chunk[pos:eol]
        op = line[:4].upper()
        frame: Msg | HMsg
        if op == b"HMSG" and separated(line, 4):
            subject, sid, reply, header_size, size = self._decoder.hmsg(line)
            frame = HMsg(subject, sid, reply, b"", b"")
        elif op[:3] == b"MSG" and separated(line, 3):
            subject, sid, reply, size = self._decoder.msg(line)
            header_size = 0
            frame = Msg(subject, sid, reply, b"")
        else:
            frames.append(_frame_without_payload(line, op))
            return eol + 1
        end = eol + 1 + size
        if end + 2 > len(chunk):
            self._wait_for_payload(frame, header_size, size, end + 2 - pos)
            return NEED_DATA
        complete_frame(frame, header_size, chunk, eol + 1, end, line)
        frames.append(frame)
        return end + 2


def _frame_without_payload(line: bytes, op: bytes) -> Frame:
    """PING, PONG, +OK, -ERR or INFO; ``op`` is the line's first four bytes, upper case."""
    if op == b"PING":
        return PING
    if op == b"PONG":
        return PONG
    if op[:3] == b"+OK":
        return OK
    if op == b"-ERR" and separated(line, 4):
        return Err(error_text(line[5:]))
    if op == b"INFO":
        return Info(json_object(line[4:], line))
    raise unknown_operation(line)


def _offset(pieces: list[bytes], mark: int, marked: int, index: int, length: int) -> int:
    """The offset of ``pieces[index]`` in the bytes of ``length`` that were split at
    CRLF into ``pieces``, given that ``pieces[mark]`` starts at ``marked``: summed
    from the mark or back from the end, whichever spans fewer pieces."""
    last = len(pieces) - 1
    if index - mark <= last - index:
        return marked + sum(map(len, pieces[mark:index])) + 2 * (index - mark)
    return length - sum(map(len, pieces[index:])) - 2 * (last - index)


def _opening_path(chunk: bytes) -> int:
    """The path for a first chunk: the HMSG run if it opens with an HMSG, offsets if
    with a MSG whose payload is over the large-frame average, else pieces. A guess
    only: it decides which path parses, never what is accepted."""
    if chunk[:5] == b"HMSG ":
        return _HMSGS
    end = chunk.find(b"\n", 0, 1024)
    if end < 0:
        return _PIECES
    args = chunk[:end].split()
    size = args[-1] if len(args) in (4, 5) and args[0] == b"MSG" else b""
    if size.isdigit() and (len(size) > 9 or int(size) > _LARGE_FRAME_AVERAGE):
        return _OFFSETS
    return _PIECES
