"""The reconnect delay for a server given its failed attempts, with a seeded random
source: no event loop, no server."""

from __future__ import annotations

import random

import pytest

from natswire.client.failover import Backoff
from natswire.client.options import ConnectOptions


def test_by_default_the_delay_is_reconnect_time_wait_for_every_attempt() -> None:
    options = ConnectOptions(reconnect_time_wait=0.5, reconnect_jitter=0)
    backoff = Backoff(options, random.Random(1))
    assert [backoff.delay(n) for n in range(5)] == [0.5] * 5


def test_asked_for_the_delay_doubles_per_attempt_up_to_the_maximum() -> None:
    options = ConnectOptions(reconnect_time_wait=0.5, reconnect_time_wait_max=3, reconnect_jitter=0)
    backoff = Backoff(options, random.Random(1))
    assert [backoff.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_maximum_below_the_wait_keeps_the_wait() -> None:
    options = ConnectOptions(reconnect_time_wait=2, reconnect_time_wait_max=1, reconnect_jitter=0)
    assert Backoff(options, random.Random(1)).delay(4) == 2.0


def test_jitter_stays_within_its_fraction_and_follows_the_seed() -> None:
    options = ConnectOptions(
        reconnect_time_wait=1, reconnect_time_wait_max=1, reconnect_jitter=0.25
    )
    first = [Backoff(options, random.Random(7)).delay(0) for _ in range(3)]
    again = [Backoff(options, random.Random(7)).delay(0) for _ in range(3)]
    assert first == again
    backoff = Backoff(options, random.Random(7))
    delays = [backoff.delay(0) for _ in range(200)]
    assert all(0.75 <= delay <= 1.25 for delay in delays)
    assert len(set(delays)) > 100


def test_the_callback_replaces_the_policy() -> None:
    options = ConnectOptions(reconnect_delay_cb=lambda attempts: 0.1 * attempts)
    assert Backoff(options, random.Random(1)).delay(3) == pytest.approx(0.3)
