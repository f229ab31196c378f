"""What a queue's filter subjects cost nats-server: ``python -m benchmarks.filter_cost``.

Creates N durable pull consumers on one limits-retention stream, each with ``--filters``
literal filter subjects (a natswire.amqp queue has its own subject and one per binding),
gives each a waiting pull request (as the adapter's consumers have), then publishes one
message per consumer with publisher acks and prints how long that took and how many
deliveries arrived. ``--no-wait`` leaves out the pull requests. ``--rounds R`` repeats
the publishing R times: from the second round on every consumer has delivered before, as
in steady traffic, and the server looks for its next message from that position.
``--retention`` picks the stream's retention and ``--ack`` acks every delivery (with
work-queue or interest retention an acked message is removed). ``--streams K`` spreads
the consumers and their messages over K streams (consumer i on stream i mod K), as a
sharded layout would. ``--memory-state`` gives the consumers ``mem_storage`` (their state
kept in memory, not written to disk), and ``--concurrency C`` keeps C acked publishes in
flight (default 200; the amqp-scale workload has 20). ``--positions`` adds, after each
publish and in the same slot, what recording the consumer's restart position would cost
(its ``CONSUMER.INFO`` and a publish of its ack floor to a one-per-subject stream): a
record per queue per message, the most a position design would write.
``--pull-expires S`` sets how long the pull requests wait (default 30 s): a slow run's
later rounds need them to outlast it. ``--ack-log`` sends, with each ack, a record of it
(the consumer and the stream sequence) to a file stream of its own, without waiting for
its publisher ack: what an exact restart record would cost if acks were logged where the
server appends instead of rewriting a file per consumer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import natswire
from natswire.jetstream.api import DeliverPolicy, RetentionPolicy
from natswire.jetstream.message import parse_metadata
from natswire.server import NatsServer

from .consumer_cost import CONCURRENCY, create_queue_consumers, shard_of

#: How long each consumer's pull request waits by default (s).
PULL_EXPIRES = 30.0
#: How long the ack log's records may take to be stored after a round (s).
ACK_LOG_PATIENCE = 30.0


async def run(
    url: str,
    consumers: int,
    filters: int,
    waiting: bool,
    rounds: int,
    retention: str,
    ack: bool,
    streams: int = 1,
    memory_state: bool = False,
    concurrency: int = CONCURRENCY,
    positions: bool = False,
    pull_expires: float = PULL_EXPIRES,
    ack_log: bool = False,
) -> None:
    nc = await natswire.connect(url)
    js = nc.jetstream(timeout=30)
    if positions:
        await js.add_stream(name="POS", subjects=["pos.>"], max_msgs_per_subject=1)
    if ack_log:
        await js.add_stream(name="ACKLOG", subjects=["acklog.>"])
    for k in range(streams):
        stream, prefix = shard_of(k, streams)
        await js.add_stream(
            name=stream,
            subjects=[f"{prefix}>"],
            retention=RetentionPolicy(retention),
            max_consumers=consumers,
        )
    deliver = DeliverPolicy.ALL if retention == "workqueue" else DeliverPolicy.NEW
    await create_queue_consumers(js, consumers, filters, deliver, streams, memory_state)
    delivered = 0

    def count(msg: natswire.Msg) -> None:
        nonlocal delivered
        if msg.reply:  # a delivery (request time-outs come without an ack subject)
            delivered += 1
            if ack:
                nc.publish_trusted_nowait(msg.reply.encode(), b"+ACK")
            if ack_log:
                meta = parse_metadata(msg.reply)
                record = b"%d" % meta.sequence.stream
                nc.publish_trusted_nowait(f"acklog.{meta.consumer}".encode(), record)

    await nc.subscribe("in.>", cb=count)
    if waiting:
        request = json.dumps({"batch": 500, "expires": int(pull_expires * 1e9)}).encode()
        for i in range(consumers):
            stream = shard_of(i, streams)[0]
            await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.Q-{i}", request, f"in.{i}")
        await nc.flush()
        await asyncio.sleep(2)
    slots = asyncio.Semaphore(concurrency)
    for round_no in range(1, rounds + 1):
        errors = 0

        async def publish(i: int) -> None:
            nonlocal errors
            async with slots:
                stream, prefix = shard_of(i, streams)
                try:
                    await js.publish(f"{prefix}un.u{i}", b"x" * 200)
                    if positions:
                        info = await js.consumer_info(stream, f"Q-{i}")
                        floor = b"%d" % (info.ack_floor.stream_seq + 1)
                        await js.publish(f"pos.Q-{i}", floor)
                except natswire.errors.NatsError:
                    errors += 1

        started = time.monotonic()
        await asyncio.gather(*(publish(i) for i in range(consumers)))
        took = time.monotonic() - started
        await nc.flush()
        logged = ""
        if ack_log:
            # The records were not waited for: count what the stream holds once the
            # deliveries so far are all in it, and when that was.
            deadline = time.monotonic() + ACK_LOG_PATIENCE
            while (stored := (await js.stream_info("ACKLOG")).state.messages) < delivered:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            if stored < delivered:
                logged = f", only {stored} acks logged after {ACK_LOG_PATIENCE:.0f} s more"
            else:
                logged = f", all acks logged after {time.monotonic() - started:.1f} s"
        print(
            f"round {round_no}: {consumers} consumers on {streams} stream(s), "
            f"{filters} filter subject(s) each, "
            f"{'a waiting pull request each' if waiting else 'no pull requests'}: "
            f"{consumers} acked publishes in {took:.1f} s ({errors} failed), "
            f"{delivered} delivered by then{logged}",
            flush=True,
        )
    await nc.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.filter_cost")
    parser.add_argument("--consumers", type=int, default=20_000)
    parser.add_argument("--filters", type=int, default=2)
    parser.add_argument("--no-wait", action="store_true", help="no waiting pull requests")
    parser.add_argument("--rounds", type=int, default=1, help="messages per consumer")
    parser.add_argument(
        "--retention", choices=("limits", "interest", "workqueue"), default="limits"
    )
    parser.add_argument("--ack", action="store_true", help="ack every delivery")
    parser.add_argument("--streams", type=int, default=1, help="consumers spread over K")
    parser.add_argument(
        "--memory-state", action="store_true", help="consumers keep their state in memory"
    )
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="acked publishes in flight"
    )
    parser.add_argument(
        "--positions",
        action="store_true",
        help="after each publish, record its consumer's ack floor (CONSUMER.INFO + a publish)",
    )
    parser.add_argument(
        "--pull-expires", type=float, default=PULL_EXPIRES, help="pull requests wait this long (s)"
    )
    parser.add_argument(
        "--ack-log",
        action="store_true",
        help="with each ack, a record of it to a file stream (not waited for)",
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.ack_log and not args.ack:
        parser.error("--ack-log logs acks: it needs --ack")
    if args.pull_expires <= 0:
        parser.error("--pull-expires must be above 0")
    with NatsServer(jetstream=True) as server:
        asyncio.run(
            run(
                server.url,
                args.consumers,
                args.filters,
                not args.no_wait,
                args.rounds,
                args.retention,
                args.ack,
                args.streams,
                args.memory_state,
                args.concurrency,
                args.positions,
                args.pull_expires,
                args.ack_log,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
