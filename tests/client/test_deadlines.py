"""Request deadlines decided from a given ``now``: no event loop, no server."""

from __future__ import annotations

from natswire.client.deadlines import NEVER, RequestDeadlines


def test_nothing_is_due_before_its_deadline_and_the_earliest_is_told() -> None:
    live = {b"a": None, b"b": None}
    deadlines = RequestDeadlines(live)
    deadlines.add(b"a", 1.0, 11.0)
    deadlines.add(b"b", 0.5, 10.5)
    assert deadlines.due(10.0) == ([], 10.5)
    keys, earliest = deadlines.due(10.5)
    assert keys == [b"b"]
    assert earliest == 11.0


def test_due_keys_come_out_once_and_in_order_per_timeout() -> None:
    live = {b"1": None, b"2": None, b"3": None}
    deadlines = RequestDeadlines(live)
    for n, key in enumerate((b"1", b"2", b"3")):
        deadlines.add(key, 1.0, 1.0 + n)
    keys, earliest = deadlines.due(2.0)
    assert keys == [b"1", b"2"]
    assert earliest == 3.0
    for key in keys:
        del live[key]
    assert deadlines.due(2.5) == ([], 3.0)
    assert deadlines.due(3.0) == ([b"3"], NEVER)


def test_answered_requests_are_never_due_and_their_entries_go() -> None:
    live = {b"x": None, b"y": None}
    deadlines = RequestDeadlines(live)
    deadlines.add(b"x", 1.0, 1.0)
    deadlines.add(b"y", 1.0, 2.0)
    del live[b"x"]
    assert deadlines.due(5.0) == ([b"y"], NEVER)
    assert deadlines.entries() == 0


def test_a_queue_of_ended_requests_is_compacted() -> None:
    live: dict[bytes, None] = {}
    deadlines = RequestDeadlines(live)
    for n in range(3000):
        deadlines.add(b"%d" % n, 1.0, float(n))
    assert deadlines.entries() < 3000
    deadlines.clear()
    assert deadlines.entries() == 0
    assert deadlines.due(10_000.0) == ([], NEVER)
