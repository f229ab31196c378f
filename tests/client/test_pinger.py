"""The ping and stale decision, driven by a given ``now``: no event loop, no server."""

from __future__ import annotations

from natswire.client.failover import PingDecision, PingSchedule


def test_a_ping_is_due_each_interval_and_not_before() -> None:
    pings = PingSchedule(interval=2.0, max_outstanding=2)
    pings.start(now=100.0)
    assert pings.next_due == 102.0
    assert pings.due(101.9) is PingDecision.WAIT
    assert pings.due(102.0) is PingDecision.PING
    assert pings.outstanding == 1
    assert pings.next_due == 104.0
    assert pings.due(103.0) is PingDecision.WAIT


def test_unanswered_pings_make_the_link_stale() -> None:
    pings = PingSchedule(interval=1.0, max_outstanding=2)
    pings.start(now=0.0)
    assert pings.due(1.0) is PingDecision.PING
    assert pings.due(2.0) is PingDecision.PING
    assert pings.due(3.0) is PingDecision.STALE
    assert pings.outstanding == 2


def test_a_pong_clears_what_is_outstanding() -> None:
    pings = PingSchedule(interval=1.0, max_outstanding=1)
    pings.start(now=0.0)
    assert pings.due(1.0) is PingDecision.PING
    pings.pong()
    assert pings.outstanding == 0
    assert pings.due(2.0) is PingDecision.PING
    assert pings.due(3.0) is PingDecision.STALE


def test_a_new_connection_starts_afresh() -> None:
    pings = PingSchedule(interval=5.0, max_outstanding=1)
    pings.start(now=0.0)
    pings.due(5.0)
    pings.start(now=50.0)
    assert pings.outstanding == 0
    assert pings.due(54.0) is PingDecision.WAIT
    assert pings.due(55.0) is PingDecision.PING
