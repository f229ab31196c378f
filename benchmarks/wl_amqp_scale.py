"""Wire's device-queue workload at scale, for natswire.amqp and for RabbitMQ (aio-pika).

The workload (issue 17): a direct exchange ``user-notifications``; per device a queue
``user-notifications.<userId>.<clientId>`` with ``x-queue-type: quorum`` and
``x-dead-letter-exchange: dead-user-notifications``, bound to ``user-notifications``
with routing key ``<userId>``; one consumer per queue (manual ack, prefetch 500 per
channel, as Wire's cannon); one confirmed message per user, published to
``user-notifications`` with the user id as routing key. One device per user, so N
queues receive N messages.

Both brokers get the same concurrency: one connection with :data:`CHANNELS` channels;
worker ``w`` does every ``CHANNELS``-th device on channel ``w``, one operation at a time
(declare then bind; consume; publish and wait for its confirm). Each phase is
time-boxed: when its deadline passes, its workers are cancelled and the phase reports
how many devices it completed. Errors are counted (with the first one's text), never
retried; a later phase only uses the devices the earlier ones completed.

:func:`run_side` drives one :class:`ScaleClient` through the phases:

1. **declare+bind**: queues/s, from the first declare to the last bind.
2. **consume**: ``basic_consume`` per queue, consumers started/s.
3. **deliver**: after a ``sync`` (the earlier phases' writes reach the disk first),
   confirmed publishes, timed from the first publish to the last ack (each consumer
   checks that its queue gets its own user's message, once).
4. **idle**: the connection stays open with every consumer, nothing published, for
   ``idle_seconds``; the :class:`BrokerProbe` measures the server meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .common import now

EXCHANGE = "user-notifications"
DEAD_LETTER_EXCHANGE = "dead-user-notifications"
QUEUE_ARGUMENTS: dict[str, Any] = {
    "x-queue-type": "quorum",
    "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
}
#: Channels over the one connection per broker = concurrent operations in every phase.
CHANNELS = 20
#: Prefetch per channel (``basic_qos``), as Wire's cannon sets it.
PREFETCH = 500
#: Seconds to close a connection before giving up on it (reported as an error).
CLOSE_TIMEOUT = 60.0
#: Seconds an operation in flight at a phase's deadline may still take before it is
#: cancelled (cancelling an aio-pika RPC closes its channel, so it is the last resort).
GRACE = 30.0


@dataclass(frozen=True)
class Device:
    """One user device: its queue and the routing key (the user id) it is bound with."""

    user: str
    client: str

    @property
    def queue(self) -> str:
        return f"{EXCHANGE}.{self.user}.{self.client}"

    @property
    def body(self) -> bytes:
        """The one message published for this device's user."""
        return self.user.encode()


def devices(count: int, seed: int = 17) -> list[Device]:
    """``count`` devices of distinct users: Wire-like ids (a UUID, 16 hex digits),
    the same ones in every run."""
    rng = random.Random(seed)
    return [
        Device(str(uuid.UUID(int=rng.getrandbits(128), version=4)), f"{rng.getrandbits(64):016x}")
        for _ in range(count)
    ]


class ScaleClient(Protocol):
    """One broker's client side of the workload; worker ``w`` uses channel ``w``."""

    name: str
    #: Errors the library reported outside any call (a channel closed by the broker...).
    reported: list[str]

    async def open(self, channels: int) -> None:
        """Connect, open ``channels`` channels with the prefetch set, declare the exchange."""

    async def declare(self, worker: int, device: Device) -> None:
        """Declare the device's queue and bind it (see the module docs)."""

    async def consume(self, worker: int, device: Device, tally: DeliveryTally) -> None:
        """Start the queue's consumer (manual ack): for each delivery
        ``tally.received(device, body, redelivered)``, the ack, then ``tally.acked()``."""

    async def publish(self, worker: int, device: Device) -> None:
        """Publish the user's message and wait for its confirm."""

    async def close(self) -> None:
        """Close the connection."""


class BrokerProbe(Protocol):
    """What the server side is measured with (see amqp_scale.py)."""

    def memory_bytes(self) -> int | None:
        """The broker's memory now."""

    def cpu_seconds(self) -> float | None:
        """The broker's CPU time so far (user + system)."""

    def api_requests(self) -> int | None:
        """JetStream API requests served so far (None when the broker has no such API)."""

    def messages_in(self) -> int | None:
        """Messages the broker received from its clients so far (None: not counted)."""


@dataclass
class PhaseResult:
    """One phase: how many of ``target`` devices it completed in ``seconds``."""

    name: str
    target: int
    done: list[Device] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    seconds: float = 0.0
    timed_out: bool = False

    @property
    def rate(self) -> float | None:
        """Completed per second (None when nothing completed)."""
        if not self.done or self.seconds <= 0:
            return None
        return len(self.done) / self.seconds

    def error(self, text: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = text


def describe(exc: BaseException) -> str:
    """``Type: message`` with the module of library errors (what a user would see)."""
    kind = type(exc)
    module = kind.__module__
    name = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
    return f"{name}: {exc}"


async def run_phase(
    name: str,
    items: Sequence[Device],
    workers: int,
    step: Callable[[int, Device], Awaitable[None]],
    timeout: float,
    grace: float = GRACE,
) -> PhaseResult:
    """``step(worker, device)`` for every device, ``workers`` at a time (worker ``w``
    takes every ``workers``-th device, in order). After ``timeout`` seconds no new step
    starts; the ones in flight get ``grace`` seconds more, then are cancelled."""
    result = PhaseResult(name, len(items))
    started = now()
    deadline = started + timeout

    async def work(w: int) -> None:
        for device in items[w::workers]:
            if now() >= deadline:
                result.timed_out = True
                return
            try:
                await step(w, device)
            except Exception as exc:
                result.error(describe(exc))
            else:
                result.done.append(device)

    tasks = [asyncio.create_task(work(w)) for w in range(min(workers, len(items)))]
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=timeout + grace)
        if pending:
            result.timed_out = True
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=10.0)
    result.seconds = now() - started
    if result.timed_out:
        result.error(
            f"phase timed out after {timeout:.0f} s (+{grace:.0f} s for operations in "
            f"flight): {len(result.done)} of {len(items)} done"
        )
    return result


class DeliveryTally:
    """Counts the consumers' deliveries: each expected device gets its user's body,
    once. The clients call :meth:`received` before acking and :meth:`acked` after."""

    def __init__(self) -> None:
        self.waiting: set[Device] = set()
        self.expected = 0
        self.acks = 0
        self.last_ack_at = 0.0
        self.wrong: list[str] = []
        self.all_in: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def expect(self, expected: Sequence[Device]) -> None:
        """The devices whose user gets a message now (call before publishing)."""
        self.waiting = set(expected)
        self.expected = len(self.waiting)
        if not self.waiting:
            self.all_in.set_result(None)

    def received(self, device: Device, body: bytes, redelivered: bool) -> None:
        if body != device.body:
            self.wrong.append(f"{device.queue} got {body[:60]!r}, expected {device.body!r}")
        elif device not in self.waiting:
            self.wrong.append(f"{device.queue}: an unexpected delivery (redelivered={redelivered})")
        else:
            self.waiting.discard(device)

    def acked(self) -> None:
        self.acks += 1
        self.last_ack_at = now()
        # Every expected delivery received is not enough: the last one's ack may still be
        # on its way while another's (or a wrong delivery's) completes.
        done = self.acks >= self.expected + len(self.wrong)
        if not self.waiting and done and not self.all_in.done():
            self.all_in.set_result(None)


@dataclass
class DeliverResult:
    """The deliver phase: publishes and the consumers' acks, from the first publish."""

    publish: PhaseResult
    expected: int
    acked: int = 0
    seconds: float = 0.0
    timed_out: bool = False
    wrong: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return self.acked / self.seconds if self.acked and self.seconds > 0 else None


@dataclass
class IdleResult:
    """The idle window: the broker's CPU share, JetStream API requests and messages from
    clients per second."""

    seconds: float
    cpu_share: float | None = None
    api_per_second: float | None = None
    messages_per_second: float | None = None


@dataclass
class SideResult:
    """Everything measured for one broker."""

    broker: str
    queues: int
    open_error: str = ""
    declare: PhaseResult | None = None
    consume: PhaseResult | None = None
    deliver: DeliverResult | None = None
    idle: IdleResult | None = None
    memory_bytes: int | None = None
    reported: list[str] = field(default_factory=list)
    close_error: str = ""

    def errors(self) -> tuple[int, str]:
        """(count, first text) of failed operations, unfinished phases and wrong
        deliveries over every phase (not :attr:`reported`: those errors mostly also
        failed an operation)."""
        found: list[tuple[int, str]] = []
        if self.open_error:
            found.append((1, f"open: {self.open_error}"))
        for phase in (self.declare, self.consume, self.deliver and self.deliver.publish):
            if phase and phase.errors:
                found.append((phase.errors, f"{phase.name}: {phase.first_error}"))
        if self.deliver is not None:
            if self.deliver.timed_out:
                found.append(
                    (
                        1,
                        f"deliver: {self.deliver.acked} of {self.deliver.expected} acked "
                        f"when the phase timed out",
                    )
                )
            if self.deliver.wrong:
                found.append((len(self.deliver.wrong), f"deliver: {self.deliver.wrong[0]}"))
        if self.close_error:
            found.append((1, f"close: {self.close_error}"))
        return sum(n for n, _ in found), found[0][1] if found else ""


def phase_timeout(queues: int) -> float:
    """Seconds each phase may take: a budget of 20 operations/s plus two minutes, so a
    slow but working broker finishes (on this shared 2-core box RabbitMQ declared quorum
    queues at 31/s with 14,000 in place), and nothing runs unbounded."""
    return 120.0 + queues / 20.0


async def run_side(
    client: ScaleClient,
    count: int,
    probe: BrokerProbe,
    idle_seconds: float,
    timeout: float | None = None,
    grace: float = GRACE,
    on_deliver: Callable[[], object] | None = None,
) -> SideResult:
    """The whole workload for one broker (see the module docs); never raises for a
    broker's failure: it is in the result. ``on_deliver`` is called as the delivery
    phase starts (server_profile.py profiles the server from there)."""
    limit = phase_timeout(count) if timeout is None else timeout
    result = SideResult(client.name, count)
    all_devices = devices(count)
    try:
        await asyncio.wait_for(client.open(CHANNELS), limit)
    except Exception as exc:
        result.open_error = describe(exc)
        await _close(client, result)
        return result
    try:
        result.declare = await run_phase(
            "declare+bind", all_devices, CHANNELS, client.declare, limit, grace
        )
        tally = DeliveryTally()

        async def consume(worker: int, device: Device) -> None:
            await client.consume(worker, device, tally)

        result.consume = await run_phase(
            "consume", result.declare.done, CHANNELS, consume, limit, grace
        )
        # The earlier phases' dirty pages are written now, not during the timed delivery
        # (a side whose consume phase is quick would otherwise pay its declare's writeback).
        os.sync()
        if on_deliver is not None:
            on_deliver()
        result.deliver = await _deliver(client, tally, result.consume.done, limit, grace)
        result.memory_bytes = probe.memory_bytes()
        result.idle = await _idle(probe, idle_seconds)
    finally:
        await _close(client, result)
    return result


async def _deliver(
    client: ScaleClient,
    tally: DeliveryTally,
    targets: Sequence[Device],
    limit: float,
    grace: float,
) -> DeliverResult:
    """Publish one confirmed message per target's user; wait for every ack, timed from
    the first publish to the last ack, all within ``limit`` seconds."""
    tally.expect(targets)
    started = now()
    publish = await run_phase("publish", targets, CHANNELS, client.publish, limit, grace)
    result = DeliverResult(publish, len(targets))
    left = limit - (now() - started)
    if not tally.all_in.done():
        try:
            await asyncio.wait_for(asyncio.shield(tally.all_in), max(left, 1.0))
        except asyncio.TimeoutError:
            result.timed_out = True
    result.acked = tally.acks
    result.seconds = (tally.last_ack_at if tally.acks else now()) - started
    result.wrong = list(tally.wrong)
    return result


async def _idle(probe: BrokerProbe, seconds: float) -> IdleResult:
    """The broker's CPU share, JetStream API requests/s and messages in/s over
    ``seconds`` of idling."""
    cpu0, api0, in0, t0 = probe.cpu_seconds(), probe.api_requests(), probe.messages_in(), now()
    await asyncio.sleep(seconds)
    cpu1, api1, in1 = probe.cpu_seconds(), probe.api_requests(), probe.messages_in()
    elapsed = now() - t0
    result = IdleResult(elapsed)
    if cpu0 is not None and cpu1 is not None:
        result.cpu_share = (cpu1 - cpu0) / elapsed
    if api0 is not None and api1 is not None:
        result.api_per_second = (api1 - api0) / elapsed
    if in0 is not None and in1 is not None:
        result.messages_per_second = (in1 - in0) / elapsed
    return result


async def _close(client: ScaleClient, result: SideResult) -> None:
    try:
        await asyncio.wait_for(client.close(), CLOSE_TIMEOUT)
    except Exception as exc:
        result.close_error = describe(exc)
    result.reported = list(client.reported)
