"""Side-by-side benchmarks: natswire vs nats-py vs a hand-written ``raw`` asyncio client.

Run ``python -m benchmarks`` (or ``make bench``); see ``benchmarks/README.md``.
"""
