"""Where nats-server spends its CPU while natswire.amqp delivers at scale.

``python -m benchmarks.server_profile --queues 20000 --shards 20 [--seconds 8] [--top 25]``
runs the amqp-scale workload's natswire side (wl_amqp_scale.run_side: declare and bind,
consume, then one confirmed message per queue) against a nats-server started with a
``prof_port``, takes the server's CPU profile (``/debug/pprof/profile``) over the first
``--seconds`` of the delivery phase, and prints the functions with the largest share of
the samples, flat (in the function itself) and cumulative (in it or what it calls). The
profile is Go's pprof format, read here without Go's tools; ``--save FILE`` keeps it for
``go tool pprof``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gzip
import os
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

from natswire.server import NatsServer, free_port

from .amqp_scale import NatsProbe
from .amqp_scale_clients import NatswireScaleClient
from .wl_amqp_scale import run_side


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(data: bytes) -> Iterator[tuple[int, Any]]:
    """(field number, value) of a protobuf message: ints for varints, bytes otherwise."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, kind = key >> 3, key & 7
        if kind == 0:
            value, i = _varint(data, i)
            yield number, value
        elif kind == 2:
            size, i = _varint(data, i)
            yield number, data[i : i + size]
            i += size
        elif kind in (1, 5):
            width = 8 if kind == 1 else 4
            yield number, data[i : i + width]
            i += width
        else:
            raise ValueError(f"unknown protobuf wire type {kind}")


def _ints(value: int | bytes) -> list[int]:
    """A repeated integer field's values, packed or not."""
    if isinstance(value, int):
        return [value]
    out, i = [], 0
    while i < len(value):
        item, i = _varint(value, i)
        out.append(item)
    return out


def top_functions(profile: bytes) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """From a gzipped pprof profile: the total of its last sample value, and the
    functions by flat and by cumulative share of it, largest first."""
    data = gzip.decompress(profile)
    strings: list[str] = []
    samples: list[tuple[list[int], list[int]]] = []
    locations: dict[int, list[int]] = {}
    functions: dict[int, int] = {}
    for number, value in _fields(data):
        if number == 2:  # Sample: location ids, values
            ids: list[int] = []
            values: list[int] = []
            for field, item in _fields(value):
                if field == 1:
                    ids += _ints(item)
                elif field == 2:
                    values += _ints(item)
            samples.append((ids, values))
        elif number == 4:  # Location: id, lines (function ids)
            location, lines = 0, []
            for field, item in _fields(value):
                if field == 1:
                    location = item
                elif field == 4:
                    lines += [f for n, f in _fields(item) if n == 1]
            locations[location] = lines
        elif number == 5:  # Function: id, name (a string index)
            function, name_index = 0, 0
            for field, item in _fields(value):
                if field == 1:
                    function = item
                elif field == 2:
                    name_index = item
            functions[function] = name_index
        elif number == 6:
            strings.append(value.decode(errors="replace"))
    flat: collections.Counter[str] = collections.Counter()
    cumulative: collections.Counter[str] = collections.Counter()
    total = 0
    for ids, values in samples:
        weight = values[-1] if values else 0
        total += weight
        names = [strings[functions[f]] for i in ids for f in locations.get(i, [])]
        if names:
            flat[names[0]] += weight
        for called in set(names):
            cumulative[called] += weight
    return total, flat.most_common(), cumulative.most_common()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queues", type=int, default=20_000)
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--save", default=None, help="keep the raw profile in this file")
    args = parser.parse_args()
    port = free_port()
    server = NatsServer(jetstream=True, http_port=-1, config_extra=f"prof_port: {port}")
    profile: list[bytes] = []

    def take_profile() -> None:
        url = f"http://127.0.0.1:{port}/debug/pprof/profile?seconds={args.seconds}"
        with urllib.request.urlopen(url, timeout=args.seconds + 60) as answer:
            profile.append(answer.read())

    taker = threading.Thread(target=take_profile)
    server.start()
    try:
        client = NatswireScaleClient([server.url], f"prof{os.getpid()}", args.shards)
        side = asyncio.run(
            run_side(client, args.queues, NatsProbe([server]), 1.0, on_deliver=taker.start)
        )
        if taker.ident is not None:
            taker.join()
    finally:
        server.stop()
    deliver = side.deliver
    if deliver is not None:
        print(f"delivered+acked {deliver.acked:,} in {deliver.seconds:.1f} s")
    if not profile:
        print("no profile was taken")
        return 1
    if args.save:
        with open(args.save, "wb") as out:
            out.write(profile[0])
    total, flat, cumulative = top_functions(profile[0])
    print(f"{args.queues:,} queues over {args.shards} namespace(s); {total / 1e9:.1f} s of samples")
    for title, rows in (("flat", flat), ("cumulative", cumulative)):
        print(f"== {title}")
        for name, weight in rows[: args.top]:
            print(f"{weight / total * 100:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
