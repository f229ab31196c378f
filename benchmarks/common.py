"""Things every benchmark process shares: subjects, payloads, loop setup, result output."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlparse

T = TypeVar("T")

#: The clients under test, in table-column order (the worker's ``--client`` choices).
CLIENTS = ("natswire", "nats-py", "raw")

PUB_SUBJECT = "bench.pub"
PUBSUB_SUBJECT = "bench.ps"
RECV_SUBJECT = "bench.recv"
REQ_SUBJECT = "bench.req"
SERVICE_SUBJECT = "bench.svc"
FAN_SUBJECT = "bench.fan"
QUEUE_SUBJECT = "bench.queue"
QUEUE_GROUP = "workers"
MEM_SUBJECT = "bench.mem"
#: JetStream workloads: each trial makes its own stream on ``<JS_SUBJECT>.<token>``.
JS_SUBJECT = "bench.js"
#: Outstanding publish acks for windowed publishing (nats-py's and natswire's default,
#: and what the AMQP adapter's ``confirm=False`` publishing uses).
JS_WINDOW = 4000
#: Messages per pull request (``fetch``) and the adapter's prefetch in the flow rows.
JS_BATCH = 500

#: Subscriber pending limits large enough that no client drops a message in any workload.
BIG_PENDING_MSGS = 4_000_000
BIG_PENDING_BYTES = 2 * 1024 * 1024 * 1024

now = time.perf_counter


def payload(size: int) -> bytes:
    """A deterministic payload of ``size`` bytes."""
    pattern = b"0123456789abcdefghijklmnopqrstuvwxyz"
    return (pattern * (size // len(pattern) + 1))[:size]


def host_port(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 4222


def run(main: Callable[[], Awaitable[T]], loop_name: str) -> T:
    """Run ``main()`` on a fresh event loop of the requested kind."""
    if loop_name == "uvloop":
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    else:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


def timeout_for(n: int, per_second: float = 20_000.0, floor: float = 60.0) -> float:
    """A generous deadline for ``n`` messages: never hit unless something is stuck."""
    return floor + n / per_second


def shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` counts that differ by at most one."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


class Counter:
    """Counts messages (and payload bytes) and resolves futures at thresholds.

    The hot path in a callback is ``c.count += 1; c.nbytes += len(data)`` and
    ``if c.count == c.next: c.hit()``: one int comparison per message.
    """

    __slots__ = ("count", "nbytes", "next", "targets")

    def __init__(self) -> None:
        self.count = 0
        self.nbytes = 0
        self.next = -1
        self.targets: dict[int, asyncio.Future[float]] = {}

    def at(self, target: int) -> asyncio.Future[float]:
        """A future resolved with the perf_counter time when ``count`` reaches ``target``."""
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if self.count >= target:
            fut.set_result(now())
        else:
            self.targets[target] = fut
            self.next = min(self.targets)
        return fut

    def hit(self) -> None:
        """Called when ``count == next``."""
        fut = self.targets.pop(self.count, None)
        if fut is not None and not fut.done():
            fut.set_result(now())
        self.next = min(self.targets) if self.targets else -1


def spread_counters(nsubs: int, queue: str) -> tuple[list[Counter], list[Counter]]:
    """The counters of ``nsubs`` subscribers: (the distinct ones, one per subscriber).

    A queue group delivers each message to one member, so its members share one counter;
    plain subscribers each get their own."""
    if queue:
        shared = [Counter()]
        return shared, shared * nsubs
    own = [Counter() for _ in range(nsubs)]
    return own, own


async def wait(fut: Awaitable[T], seconds: float, what: str) -> T:
    try:
        return await asyncio.wait_for(fut, seconds)
    except asyncio.TimeoutError:
        raise RuntimeError(f"timed out after {seconds:.0f} s waiting for {what}") from None


async def publish_and_wait(
    nc: Any,
    subject: str,
    data: bytes,
    count: int,
    futures: list[asyncio.Future[float]],
    limit: float,
) -> None:
    """``count`` ``await nc.publish(subject, data)`` calls (any of the three clients), then
    wait for ``futures`` (the subscribers' Counter thresholds)."""
    publish = nc.publish
    for _ in range(count):
        await publish(subject, data)
    await wait(asyncio.gather(*futures), limit, "the subscribers to receive every message")


def emit(result: dict[str, Any]) -> None:
    """Print the result as the last stdout line (the runner parses it)."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def ready() -> None:
    """Tell the runner the subscriber is in place (it then starts the sender)."""
    sys.stdout.write("READY\n")
    sys.stdout.flush()


def current_rss() -> int:
    """This process's resident set size now, in bytes (/proc on Linux; elsewhere the peak,
    which is as good while memory only grows)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def hold_pending(
    pending: Callable[[], int], n: int, size: int, traced: bool
) -> dict[str, float]:
    """Start the sender (``ready()``), wait until ``pending()`` says ``n`` messages of
    ``size`` bytes are held, and say what they take per message: the growth of the
    resident set (or, with ``traced``, of the bytes ``tracemalloc`` sees allocated; a
    separate trial, as tracing costs memory of its own) over ``n``, and that less the
    payload (``overhead``)."""
    gc.collect()
    if traced:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
    else:
        base = current_rss()
    ready()
    deadline = now() + timeout_for(n)
    while pending() < n:
        if now() > deadline:
            raise RuntimeError(f"only {pending()} of {n} messages pending")
        await asyncio.sleep(0.005)
    if traced:
        used = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
    else:
        used = current_rss() - base
    if pending() != n:
        raise RuntimeError(f"{pending()} messages pending, expected {n}")
    per_message = used / n
    return {"bytes_per_msg": per_message, "overhead": per_message - size}


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def js_settled(
    js: Any,
    stream: str,
    *,
    stored: int,
    published: int,
    consumer: str | None = None,
    timeout: float = 10.0,
) -> None:
    """Wait until the server says the trial lost nothing, or raise what it says instead.

    The stream must hold ``stored`` messages with last sequence ``published``; with
    ``consumer``, that consumer must have delivered every one of the ``published``
    messages exactly once (no redeliveries) and have all of them acked. ``js`` is a
    natswire or nats-py JetStream context (the same calls). Acks are fire-and-forget,
    so the state is polled until it settles.
    """
    deadline = now() + timeout
    while True:
        problems = []
        state = (await js.stream_info(stream)).state
        if state.messages != stored or state.last_seq != published:
            problems.append(
                f"stream {stream} holds {state.messages} messages up to sequence "
                f"{state.last_seq}, expected {stored} up to {published}"
            )
        if consumer is not None:
            ci = await js.consumer_info(stream, consumer)
            delivered = ci.delivered.stream_seq if ci.delivered else 0
            floor = ci.ack_floor.stream_seq if ci.ack_floor else 0
            if (delivered, floor, ci.num_ack_pending, ci.num_pending, ci.num_redelivered) != (
                published,
                published,
                0,
                0,
                0,
            ):
                problems.append(
                    f"consumer {consumer}: delivered up to {delivered}, ack floor {floor}, "
                    f"{ci.num_ack_pending} ack pending, {ci.num_pending} pending, "
                    f"{ci.num_redelivered} redelivered; expected {published} delivered "
                    "once and acked"
                )
        if not problems:
            return
        if now() > deadline:
            raise RuntimeError("; ".join(problems))
        await asyncio.sleep(0.05)
