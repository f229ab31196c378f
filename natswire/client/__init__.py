"""The asyncio NATS client."""

from .client import Client, Stats, connect
from .credentials import RawCredentials
from .message import Message
from .metrics import HistogramSnapshot, LatencyHistogram, SubscriptionPending
from .options import ConnectOptions
from .subscription import Subscription

__all__ = [
    "Client",
    "ConnectOptions",
    "HistogramSnapshot",
    "LatencyHistogram",
    "Message",
    "RawCredentials",
    "Stats",
    "Subscription",
    "SubscriptionPending",
    "connect",
]
