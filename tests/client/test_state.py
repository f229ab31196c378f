"""The state table, walked whole without an event loop: every listed move works, every
other pair raises."""

from __future__ import annotations

import itertools

import pytest

from natswire.client.client import CLOSING, Client, Status
from natswire.client.state import TRANSITIONS, InvalidTransitionError, check_transition


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(Status)


@pytest.mark.parametrize(("current", "new"), list(itertools.product(Status, Status)))
def test_each_pair_is_allowed_exactly_when_the_table_lists_it(current: Status, new: Status) -> None:
    if new in TRANSITIONS[current]:
        assert check_transition(current, new) is new
    else:
        with pytest.raises(InvalidTransitionError, match=f"{current.name} to {new.name}"):
            check_transition(current, new)


def test_the_life_of_a_client_is_a_path_through_the_table() -> None:
    path = [
        Status.DISCONNECTED,
        Status.CONNECTING,
        Status.CONNECTED,
        Status.RECONNECTING,
        Status.CONNECTED,
        Status.DRAINING,
        Status.CLOSING,
        Status.CLOSED,
        Status.CONNECTING,
    ]
    for current, new in itertools.pairwise(path):
        check_transition(current, new)


def test_closed_is_reached_only_through_closing_once_connected() -> None:
    for state in (Status.CONNECTED, Status.RECONNECTING, Status.DRAINING):
        assert Status.CLOSED not in TRANSITIONS[state]
        assert Status.CLOSING in TRANSITIONS[state]


def test_a_new_client_is_disconnected_and_the_public_aliases_name_the_states() -> None:
    client = Client()
    assert client.status is Status.DISCONNECTED
    assert not client.is_connected and not client.is_closed
    assert CLOSING is Status.CLOSING
