"""The asyncio NATS client."""

from .client import Client, Stats, connect
from .message import Message
from .options import ConnectOptions
from .subscription import Subscription

__all__ = ["Client", "ConnectOptions", "Message", "Stats", "Subscription", "connect"]
