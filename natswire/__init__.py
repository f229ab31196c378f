"""natswire: a fast, pure-Python NATS client."""

__version__ = "0.1.0"
