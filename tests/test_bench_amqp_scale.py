"""The amqp-scale benchmark's phase logic (benchmarks/wl_amqp_scale.py) with a scripted
client: failures are counted with their first text, a phase that hangs is cut at its
time box and reports what completed, and the table says so. The real run against both
brokers is ``make bench-smoke`` (``--quick --workloads amqp-scale``)."""

from __future__ import annotations

import asyncio
import time
from unittest.mock import patch

from benchmarks.amqp_scale import NatsProbe, render
from benchmarks.amqp_scale_ceiling import JetStreamScaleClient
from benchmarks.wl_amqp_scale import (
    CHANNELS,
    DeliveryTally,
    Device,
    PhaseResult,
    SideResult,
    devices,
    run_side,
)
from natswire.server import NatsServer


class ScriptedClient:
    """Declares fail for every ``fail_every``-th device; the publish of ``hang`` never
    returns; every other publish is delivered at once to the device's consumer."""

    def __init__(self, name: str, fail_every: int = 0, hang: Device | None = None) -> None:
        self.name = name
        self.reported: list[str] = []
        self.fail_every = fail_every
        self.hang = hang
        self.index = {d: i for i, d in enumerate(devices(200))}
        self.consumers: dict[Device, DeliveryTally] = {}
        self.closed = False

    async def open(self, channels: int) -> None:
        assert channels == CHANNELS

    async def declare(self, worker: int, device: Device) -> None:
        await asyncio.sleep(0)
        if self.fail_every and self.index[device] % self.fail_every == 0:
            raise RuntimeError(f"refused {device.queue}")

    async def consume(self, worker: int, device: Device, tally: DeliveryTally) -> None:
        self.consumers[device] = tally

    async def publish(self, worker: int, device: Device) -> None:
        if device == self.hang:
            await asyncio.Event().wait()
        tally = self.consumers[device]
        tally.received(device, device.body, False)
        tally.acked()

    async def close(self) -> None:
        self.closed = True


class FlatProbe:
    def memory_bytes(self) -> int | None:
        return 5_000_000

    def cpu_seconds(self) -> float | None:
        return 1.0

    def api_requests(self) -> int | None:
        return None

    def messages_in(self) -> int | None:
        return 42


def test_a_clean_run_completes_every_phase() -> None:
    result = asyncio.run(run_side(ScriptedClient("clean"), 200, FlatProbe(), 0.05, timeout=10))
    assert result.declare is not None and len(result.declare.done) == 200
    assert result.consume is not None and len(result.consume.done) == 200
    assert result.deliver is not None and result.deliver.acked == 200
    assert not result.deliver.timed_out
    assert result.errors() == (0, "")
    assert result.memory_bytes == 5_000_000
    assert result.idle is not None and result.idle.cpu_share == 0.0
    assert result.idle.messages_per_second == 0.0 and result.idle.api_per_second is None


def test_refusals_are_counted_and_a_hung_publish_is_cut_at_the_time_box() -> None:
    chosen = devices(200)
    client = ScriptedClient("flaky", fail_every=4, hang=chosen[1])
    started = time.monotonic()
    result = asyncio.run(run_side(client, 200, FlatProbe(), 0.05, timeout=1.0, grace=0.5))
    assert time.monotonic() - started < 10
    assert client.closed
    assert result.declare is not None and len(result.declare.done) == 150
    assert result.declare.errors == 50
    assert result.declare.first_error.startswith("RuntimeError: refused ")
    deliver = result.deliver
    assert deliver is not None and deliver.publish.timed_out and deliver.timed_out
    # The hung publish blocks the rest of its worker's devices; the others got through.
    assert 0 < deliver.acked < 150
    count, first = result.errors()
    assert count == 50 + 1 + 1
    assert first.startswith("declare+bind: RuntimeError: refused user-notifications.")
    clean = asyncio.run(run_side(ScriptedClient("clean"), 200, FlatProbe(), 0.05, timeout=10))
    table = render(result, clean, "t")
    assert "(150 of 200)" in table
    declare_row = next(line for line in table.splitlines() if line.startswith("declare+bind"))
    assert declare_row.endswith("- (incomplete)")
    both_clean = render(clean, clean, "t")
    assert "1.00x (higher is better)" in both_clean and "incomplete" not in both_clean
    assert f"({deliver.acked:,} of 200)" in table
    assert "!!! flaky: 52 error(s), first: declare+bind: RuntimeError: refused" in table


def test_reported_errors_are_shown_apart_from_failed_operations() -> None:
    side = SideResult("x", 1, reported=["channel 3: boom"])
    assert side.errors() == (0, "")
    table = render(side, SideResult("y", 1), "t")
    assert "!!! x reported: channel 3: boom" in table
    row = next(line for line in table.splitlines() if line.startswith("channel errors"))
    assert row.split()[-3:] == ["1", "0", "-"]


def _side(name: str, declared: int, seconds: float) -> SideResult:
    """A side whose declare phase (the only one it has) completed ``declared`` of 200
    devices in ``seconds``."""
    done = devices(declared)
    phase = PhaseResult("declare+bind", 200, done=list(done), seconds=seconds)
    return SideResult(name, 200, declare=phase)


def test_each_ceiling_side_gets_a_column_and_its_own_ratio_to_rabbitmq() -> None:
    rmq, nw = _side("rmq", 200, 2.0), _side("nw", 200, 1.0)  # 100/s and 200/s
    fast, partial = _side("fast", 200, 0.5), _side("partial", 150, 1.0)  # 400/s; incomplete
    table = render(nw, rmq, "t", [fast, partial])
    head = [h.strip() for h in table.splitlines()[1].split("  ") if h.strip()]
    assert head[2:] == ["nw", "rmq (quorum)", "nw/rmq", "fast", "/rmq", "partial", "/rmq"]
    row = next(line for line in table.splitlines() if line.startswith("declare+bind"))
    cells = [c.strip() for c in row.split("  ") if c.strip()]
    # Each ratio is over RabbitMQ's 100/s, never over natswire's 200/s.
    assert cells[2:] == [
        "200",
        "100",
        "2.00x (higher is better)",
        "400",
        "4.00x (higher is better)",
        "150 (150 of 200)",
        "- (incomplete)",
    ]


def test_the_tally_waits_for_the_last_ack_not_only_the_last_delivery() -> None:
    async def scenario() -> None:
        tally = DeliveryTally()
        first, second = devices(2)
        tally.expect([first, second])
        tally.received(first, first.body, False)
        tally.received(second, second.body, False)
        tally.acked()  # the first one's ack; the second's is still on its way
        assert not tally.all_in.done()
        tally.acked()
        assert tally.all_in.done() and tally.acks == 2

    asyncio.run(scenario())


def test_a_duplicate_delivery_does_not_end_the_wait_before_the_last_ack() -> None:
    async def scenario() -> None:
        tally = DeliveryTally()
        first, second = devices(2)
        tally.expect([first, second])
        tally.received(first, first.body, False)
        tally.acked()
        tally.received(first, first.body, True)  # a duplicate, acked too
        tally.received(second, second.body, False)
        tally.acked()  # the duplicate's ack; the second's is still on its way
        assert not tally.all_in.done() and tally.wrong
        tally.acked()
        assert tally.all_in.done()

    asyncio.run(scenario())


def test_jetstream_alone_delivers_each_device_its_message_and_reports_a_lapsed_pull() -> None:
    with NatsServer(jetstream=True, http_port=-1) as server:
        client = JetStreamScaleClient([server.url], shards=2)
        result = asyncio.run(run_side(client, 40, NatsProbe([server]), 0.1, timeout=30))
        assert result.errors() == (0, ""), result.errors()
        assert result.deliver is not None and result.deliver.acked == 40
        assert client.reported == []

        async def lapsed() -> list[str]:
            # A consumer whose pull request expires at once: its status is an error.
            short = JetStreamScaleClient([server.url], shards=1, memory_state=True)
            await short.open(1)
            device = devices(1, seed=5)[0]
            await short.declare(0, device)
            tally = DeliveryTally()
            with patch("benchmarks.amqp_scale_ceiling.PULL_EXPIRES", 0.1):
                await short.consume(0, device, tally)
            for _ in range(100):
                if short.reported:
                    break
                await asyncio.sleep(0.05)
            await short.close()
            return short.reported

        reported = asyncio.run(lapsed())
        assert len(reported) == 1 and "status 408" in reported[0]
