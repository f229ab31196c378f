"""The fallback engine: a hypothesis-driven random loop, for when atheris is missing.

Hypothesis strategies turn random buffers into inputs (``fuzz_one_input``): raw
bytes, streams of protocol-shaped tokens, concatenations of seed frames, and seeds
mutated by bit flips, truncation, insertion, deletion and splicing. Every input goes
through the same target function as under atheris, until the time budget runs out.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.targets import TARGETS, describe

_TOKENS = [
    b"MSG", b"HMSG", b"PUB", b"HPUB", b"SUB", b"UNSUB", b"INFO", b"CONNECT", b"PING",
    b"PONG", b"+OK", b"-ERR", b"msg", b"hpub", b" ", b"\t", b"  ", b"\r", b"\n", b"\r\n",
    b"0", b"1", b"2", b"12", b"14", b"16", b"99999", b"-1", b"a", b"a.b", b"*", b">",
    b"_INBOX.x", b"NATS/1.0", b"NATS/1.0 503", b"NATS/1.0 408 Request Timeout", b"K: v",
    b":", b"{}", b'{"a":1}', b"[", b"'", b'"', b"\x00", b"\xff", b"\xc3\xa9",
]  # fmt: skip


@dataclass
class Result:
    executions: int
    failure: str | None  # the report of the first failing input, if any
    crash_input: bytes | None


def _mutate(draw: st.DrawFn, data: bytes, seeds: Sequence[bytes]) -> bytes:
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "splice", "byte"]))
        index = draw(st.integers(0, len(buffer)))
        if kind == "flip" and buffer:
            buffer[index % len(buffer)] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del buffer[index:]
        elif kind == "insert":
            buffer[index:index] = draw(
                st.one_of(st.binary(min_size=1, max_size=16), st.sampled_from(_TOKENS))
            )
        elif kind == "delete":
            del buffer[index : index + draw(st.integers(1, 16))]
        elif kind == "splice" and seeds:
            other = draw(st.sampled_from(seeds))
            start = draw(st.integers(0, len(other)))
            buffer[index:index] = other[start : start + draw(st.integers(1, 64))]
        elif kind == "byte" and buffer:
            buffer[index % len(buffer)] = draw(st.sampled_from(b"\r\n \t0129aZ.*>:-+'\"{}"))
    return bytes(buffer)


def inputs(seeds: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    """Random inputs, many of them close to valid frames."""
    tokens = st.lists(st.sampled_from(_TOKENS), max_size=60).map(b"".join)
    options: list[st.SearchStrategy[bytes]] = [st.binary(max_size=4096), tokens]
    if seeds:
        stream = st.lists(st.sampled_from(seeds), min_size=1, max_size=8).map(b"".join)
        options += [
            stream,
            st.composite(lambda draw: _mutate(draw, draw(stream), seeds))(),
            st.composite(lambda draw: _mutate(draw, draw(st.sampled_from(seeds)), seeds))(),
        ]
    return st.one_of(options)


@dataclass
class _Progress:
    count: int = 0
    last: bytes = b""


def run(target: str, seconds: float, seeds: Sequence[bytes], seed: int | None = None) -> Result:
    """Fuzz ``target`` for ``seconds``: the seeds first, then random inputs."""
    check = TARGETS[target]
    progress = _Progress()

    for data in seeds:
        progress.count += 1
        try:
            check(data)
        except Exception:
            return Result(progress.count, _report(data), data)

    @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(inputs(seeds))
    def one(data: bytes) -> None:
        progress.last = data
        progress.count += 1
        check(data)

    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        buffer = rng.randbytes(rng.choice((256, 1024, 4096, 16384)))
        try:
            one.hypothesis.fuzz_one_input(buffer)  # type: ignore[attr-defined]
        except Exception:
            return Result(progress.count, _report(progress.last), progress.last)
    return Result(progress.count, None, None)


def _report(data: bytes) -> str:
    return f"{traceback.format_exc()}\ninput: {describe(data)}"
