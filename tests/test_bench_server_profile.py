"""The pprof reader of benchmarks/server_profile.py on a profile built by hand."""

from __future__ import annotations

import gzip

from benchmarks.server_profile import top_functions


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def test_flat_and_cumulative_shares_from_samples() -> None:
    strings = ["", "samples", "count", "main.caller", "main.leaf"]
    profile = b"".join(
        [
            # Function 1 = main.caller, 2 = main.leaf (names are string indexes).
            _field(5, _field(1, 1) + _field(2, 3)),
            _field(5, _field(1, 2) + _field(2, 4)),
            # Location 10 runs main.leaf, location 20 main.caller.
            _field(4, _field(1, 10) + _field(4, _field(1, 2))),
            _field(4, _field(1, 20) + _field(4, _field(1, 1))),
            # Leaf-first stacks: 3 samples in leaf called by caller, 1 in caller itself;
            # the last value of each sample is what counts (packed, as Go writes it).
            _field(2, _field(1, _varint(10) + _varint(20)) + _field(2, _varint(1) + _varint(3))),
            _field(2, _field(1, 20) + _field(2, _varint(1) + _varint(1))),
            *(_field(6, s.encode()) for s in strings),
        ]
    )
    total, flat, cumulative = top_functions(gzip.compress(profile))
    assert total == 4
    assert flat == [("main.leaf", 3), ("main.caller", 1)]
    assert cumulative == [("main.caller", 4), ("main.leaf", 3)]
