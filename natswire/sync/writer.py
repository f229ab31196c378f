"""The blocking client's write side: the outbound buffer, the flusher thread, the
current link, and the client's state (which changes under the same lock, so a publisher
sees one consistent view of both).

Publishers append encoded frames under the lock and wake the flusher when the buffer
was empty; a publisher that finds the buffer past :data:`WRITE_THRESHOLD` writes it
itself (back-pressure). While disconnected, frames go into the buffer up to
``pending_size`` and are sent after the subscriptions on reconnect.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future

from ..client.errors import ConnectionClosedError, OutboundBufferFullError
from ..client.options import ConnectOptions
from ..client.state import (
    CLOSED,
    CLOSING,
    CONNECTED,
    DISCONNECTED,
    DRAINING,
    ENDING,
    RECONNECTING,
    UP,
    Status,
    check_transition,
)
from ..protocol.errors import MaxPayloadError
from ..protocol.headers import HeadersLike, encode_headers
from ..protocol.limits import DEFAULT_MAX_PAYLOAD
from ..protocol.serializer import (
    PING_BYTES,
    SIZE_LINES,
    encode_hpub,
    encode_pub,
    publish_subject,
    size_line,
)
from .wire import Link

#: A publisher writes the buffer itself once it holds this many bytes.
WRITE_THRESHOLD = 64 * 1024
_PREFIX_CACHE_ENTRIES = 4096


class Writer:
    """The outbound buffer and the link it is written to; see the module docs."""

    def __init__(self) -> None:
        self.status = DISCONNECTED
        self.max_payload = DEFAULT_MAX_PAYLOAD
        self._lock = threading.Lock()
        self._outbound = bytearray()
        self._pending_size = ConnectOptions().pending_size
        self._link: Link | None = None
        # "PUB <subject> " for subjects already validated, keyed as the caller passed them.
        self._prefixes: dict[str | bytes, bytes] = {}
        # PINGs and PONGs the reader asks for; the flusher writes them.
        self._urgent: deque[bytes] = deque()
        #: One entry per PING written, in order: the flush its PONG resolves, or None.
        self.pongs: deque[Future[None] | None] = deque()
        self._wake = threading.Event()
        self._stopped = False
        #: Set (without the lock) when the client begins to close: no new link is taken.
        self.close_requested = False
        self._flusher: threading.Thread | None = None

    def configure(self, options: ConnectOptions) -> None:
        """Take the options and start the flusher thread."""
        self._pending_size = options.pending_size
        self._flusher = threading.Thread(
            target=self._flush_loop, name="natswire-sync-flusher", daemon=True
        )
        self._flusher.start()

    def move_to(self, status: Status) -> None:
        """Change the state (checked against :mod:`natswire.client.state`)."""
        with self._lock:
            self.status = check_transition(self.status, status)

    # ------------------------------------------------------------------ publish

    def publish(
        self,
        subject: str | bytes,
        payload: bytes | bytearray | memoryview = b"",
        reply: str | bytes = "",
        headers: HeadersLike | None = None,
    ) -> None:
        """Publish ``payload`` to ``subject`` (buffered; the flusher writes it).

        Raises :class:`BadSubjectError`, ``TypeError`` for a payload that is not
        bytes-like, :class:`MaxPayloadError`, :class:`OutboundBufferFullError` when
        disconnected with a full reconnect buffer, :class:`ConnectionClosedError`.
        """
        prefix = self._prefixes.get(subject)
        if prefix is not None and headers is None and not reply and payload.__class__ is bytes:
            size = len(payload)
            if size > self.max_payload:
                raise MaxPayloadError.of(size, self.max_payload)
            line = SIZE_LINES.get(size)
            if line is None:
                line = size_line(size)
            with self._lock:
                out = self._outbound
                if self.status is not CONNECTED:
                    self._check_can_buffer(len(prefix) + size + 16)
                was_empty = not out
                out += prefix
                out += line
                out += payload
                out += b"\r\n"
                if len(out) > WRITE_THRESHOLD and self.status is CONNECTED:
                    self._write_locked()
                    return
            if was_empty:
                self._wake.set()
            return
        frame = self._encode(subject, payload, reply, headers)
        with self._lock:
            if self.status is not CONNECTED:
                self._check_can_buffer(len(frame))
            was_empty = not self._outbound
            self._outbound += frame
            if len(self._outbound) > WRITE_THRESHOLD and self.status is CONNECTED:
                self._write_locked()
                return
        if was_empty:
            self._wake.set()

    def publish_now(
        self,
        subject: str | bytes,
        payload: bytes | bytearray | memoryview,
        reply: bytes,
        headers: HeadersLike | None,
    ) -> None:
        """Publish and write at once (a request: its caller waits for nothing else).
        ``reply`` is the client's own inbox, not validated."""
        prefix = self._prefixes.get(subject)
        if prefix is not None and headers is None and payload.__class__ is bytes:
            size = len(payload)
            if size > self.max_payload:
                raise MaxPayloadError.of(size, self.max_payload)
            frame = b"%b%b %d\r\n%b\r\n" % (prefix, reply, size, payload)
        else:
            frame = self._encode(subject, payload, reply, headers)
        with self._lock:
            if self.status is not CONNECTED:
                self._check_can_buffer(len(frame))
            self._outbound += frame
            if self.status in UP:
                self._write_locked()

    def _encode(
        self,
        subject: str | bytes,
        payload: bytes | bytearray | memoryview,
        reply: str | bytes,
        headers: HeadersLike | None,
    ) -> bytes:
        """Validate and encode a publish the fast path does not take; remember the
        subject's prefix."""
        if headers is None:
            frame = encode_pub(subject, payload, reply or None, max_payload=self.max_payload)
            prefixes = self._prefixes
            if len(prefixes) >= _PREFIX_CACHE_ENTRIES:
                prefixes.clear()
            prefixes[subject] = b"PUB %b " % publish_subject(subject)
            return frame
        raw = encode_headers(headers)
        return encode_hpub(subject, raw, payload, reply or None, max_payload=self.max_payload)

    def _check_can_buffer(self, frame_size: int) -> None:
        status = self.status
        if status in ENDING:
            raise ConnectionClosedError("connection is closed")
        if status is DISCONNECTED:
            raise ConnectionClosedError("not connected: call connect() first")
        if status is DRAINING:
            return
        if len(self._outbound) + frame_size > self._pending_size:
            raise OutboundBufferFullError(
                f"reconnect buffer full: {len(self._outbound)} bytes buffered, "
                f"pending_size is {self._pending_size}"
            )

    def _write_locked(self) -> None:
        """Write the buffer to the link (the lock held). A link that breaks is shut down:
        the reader notices and reconnects; what was being written is lost, as it would
        be in the kernel's buffer."""
        data = self._outbound
        self._outbound = bytearray()
        link = self._link
        if link is None:
            return
        try:
            link.sendall(data)
        except OSError:
            link.shutdown()

    # ------------------------------------------------------- control and flush

    def send_control(self, line: bytes) -> None:
        """Queue SUB/UNSUB behind what is buffered (sent on reconnect when not up)."""
        with self._lock:
            if self.status not in UP:
                return
            was_empty = not self._outbound
            self._outbound += line
        if was_empty:
            self._wake.set()

    def send_urgent(self, data: bytes) -> None:
        """A PING or PONG from the reader thread: written by the flusher, so the reader
        never waits on a publisher that is blocked writing."""
        self._urgent.append(data)
        self._wake.set()

    def ping(self) -> Future[None]:
        """Write a PING now; the future resolves with its PONG (after a reconnect, with
        the PONG of the PING the new link gets)."""
        future: Future[None] = Future()
        with self._lock:
            if self.status in ENDING:
                raise ConnectionClosedError("connection is closed")
            self.pongs.append(future)
            if self.status in UP:
                self._outbound += PING_BYTES
                self._write_locked()
        return future

    def pong_received(self) -> None:
        """A PONG arrived: resolve the flush of the oldest PING, if it had one."""
        pongs = self.pongs
        if pongs:
            future = pongs.popleft()
            if future is not None and not future.done():
                future.set_result(None)

    def fail_pings(self, error: Exception) -> None:
        """Fail every flush still waiting for its PONG."""
        while self.pongs:
            future = self.pongs.popleft()
            if future is not None and not future.done():
                future.set_exception(error)

    def _flush_loop(self) -> None:
        wake, urgent = self._wake, self._urgent
        while True:
            wake.wait()
            wake.clear()
            if self._stopped:
                return
            with self._lock:
                if self.status not in UP or self._link is None:
                    urgent.clear()
                    continue
                while urgent:
                    item = urgent.popleft()
                    if item == PING_BYTES:
                        self.pongs.append(None)
                    self._outbound += item
                if self._outbound:
                    self._write_locked()

    def stop(self) -> None:
        """End the flusher thread."""
        self._stopped = True
        self._wake.set()

    # ------------------------------------------------------------ the link

    def link_up(self, link: Link, head: bytes, max_payload: int | None) -> bool:
        """``link`` is connected: send ``head`` (the subscriptions), what was buffered,
        and a PING for each flush still waiting; go CONNECTED. ``False`` when the client
        is closing."""
        with self._lock:
            if self.status in ENDING or self.close_requested:
                return False
            if max_payload is not None:
                self.max_payload = max_payload
            self._link = link
            self._urgent.clear()
            waiting = [f for f in self.pongs if f is not None and not f.done()]
            self.pongs = deque(waiting)
            data = head + self._outbound + PING_BYTES * len(waiting)
            self._outbound = bytearray()
            if self.status is not CONNECTED:
                self.status = check_transition(self.status, CONNECTED)
            try:
                link.sendall(data)
            except OSError:
                link.shutdown()
        return True

    def link_down(self, allow_reconnect: bool) -> bool:
        """The link is gone: buffer from now on. Whether to reconnect (RECONNECTING)."""
        with self._lock:
            self._link = None
            status = self.status
            if status in ENDING or self.close_requested:
                return False
            if allow_reconnect and status in UP:
                self.status = check_transition(status, RECONNECTING)
                return True
            return False

    def abort_link(self) -> None:
        """Drop the link now (a fatal ``-ERR``); the reader reconnects or closes."""
        link = self._link
        if link is not None:
            link.shutdown()

    def start_draining(self) -> bool:
        """CONNECTED -> DRAINING; ``False`` (nothing changed) from any other state."""
        with self._lock:
            if self.status is not CONNECTED:
                return False
            self.status = check_transition(self.status, DRAINING)
            return True

    def request_close(self) -> None:
        """The client begins to close: take no new link (no lock needed)."""
        self.close_requested = True

    def start_closing(self) -> bool:
        """Go CLOSING; ``False`` when closing had already begun."""
        with self._lock:
            if self.status in ENDING:
                return False
            self.status = check_transition(self.status, CLOSING)
            return True

    def close_link(self, timeout: float) -> None:
        """Write what is buffered (``timeout`` seconds at most, waiting for a publisher
        blocked on the link as long), then shut the link so the reader returns."""
        link = self._link
        if timeout > 0 and self._lock.acquire(timeout=timeout):
            try:
                link = self._link
                if link is not None and self._outbound:
                    link.sock.settimeout(timeout)
                    self._write_locked()
            finally:
                self._lock.release()
        if link is not None:
            link.shutdown()

    @property
    def is_closed(self) -> bool:
        return self.status is CLOSED
