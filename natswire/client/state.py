"""The client's connection states and the one table of allowed transitions.

Pure: no event loop, no I/O. The client keeps its current :class:`Status` and changes
it only through :func:`check_transition`, which refuses any move the table does not
list.
"""

from __future__ import annotations

import enum

from ..protocol.errors import NatsWireError


class Status(enum.Enum):
    """Where a client is in its life."""

    #: Created, ``connect()`` not yet called.
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DRAINING = "draining"
    #: ``close()`` has started: nothing new is taken, what is buffered is written.
    CLOSING = "closing"
    CLOSED = "closed"


DISCONNECTED = Status.DISCONNECTED
CONNECTING = Status.CONNECTING
CONNECTED = Status.CONNECTED
RECONNECTING = Status.RECONNECTING
DRAINING = Status.DRAINING
CLOSING = Status.CLOSING
CLOSED = Status.CLOSED

#: Every allowed move: state -> the states it may go to.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    DISCONNECTED: frozenset({CONNECTING, CLOSING}),
    # RECONNECTING: no server answered and retry_on_failed_connect is set;
    # CLOSED: no server answered (or one refused us) and there is no retry.
    CONNECTING: frozenset({CONNECTED, RECONNECTING, CLOSING, CLOSED}),
    CONNECTED: frozenset({RECONNECTING, DRAINING, CLOSING}),
    RECONNECTING: frozenset({CONNECTED, CLOSING}),
    # RECONNECTING: the link dropped while draining; drain still ends in close().
    DRAINING: frozenset({RECONNECTING, CLOSING}),
    CLOSING: frozenset({CLOSED}),
    CLOSED: frozenset({CONNECTING}),
}

#: States with a live connection (a draining one included).
UP = frozenset({CONNECTED, DRAINING})
#: States in which nothing new is accepted.
ENDING = frozenset({CLOSING, CLOSED})


class InvalidTransitionError(NatsWireError):
    """A state change the transition table does not allow (a bug in the client)."""


def check_transition(current: Status, new: Status) -> Status:
    """Return ``new`` when ``current -> new`` is in :data:`TRANSITIONS`, else raise
    :class:`InvalidTransitionError`."""
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.name for s in TRANSITIONS[current]))
        raise InvalidTransitionError(
            f"the client cannot go from {current.name} to {new.name} (allowed: {allowed})"
        )
    return new
