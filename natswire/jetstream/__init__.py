"""JetStream: streams, consumers, publish with acks, pull consumers, the ack protocol.

Get a context from a connection made with :func:`natswire.connect`::

    js = nc.jetstream()
    await js.add_stream(name="orders", subjects=["orders.>"])
    ack = await js.publish("orders.new", b"...", msg_id="order-17")
    psub = await js.pull_subscribe("orders.>", durable="worker")
    for msg in await psub.fetch(10, timeout=1):
        await msg.ack()

or build one on any client: ``JetStreamContext(nc)``.
"""

from .api import (
    AccountInfo,
    AckPolicy,
    ClusterInfo,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
    DiscardPolicy,
    Header,
    PeerInfo,
    Placement,
    PubAck,
    RawStreamMsg,
    ReplayPolicy,
    RePublish,
    RetentionPolicy,
    SequenceInfo,
    StorageType,
    StoreCompression,
    StreamConfig,
    StreamInfo,
    StreamSource,
    StreamState,
    SubjectTransform,
)
from .batch import BatchPublisher, publish_msg_batch
from .context import JetStreamContext
from .counters import Counter, CounterEntry, CounterValue, counter_from_stream, get_counter
from .deadletter import DeadLetter, DeadLetterSubscription, parse_advisory
from .errors import (
    APIError,
    BadRequestError,
    ConsumerDeletedError,
    ConsumerNotFoundError,
    JetStreamError,
    NotFoundError,
    ServiceUnavailableError,
    StreamNotFoundError,
)
from .manager import JetStreamManager
from .message import JetStreamMessage, JsMsg, MsgMetadata, SequencePair, parse_metadata
from .ordered import OrderedPullSubscription
from .pull import PullSubscription
from .push import PushSubscription

__all__ = [
    "APIError",
    "AccountInfo",
    "AckPolicy",
    "BadRequestError",
    "BatchPublisher",
    "ClusterInfo",
    "ConsumerConfig",
    "ConsumerDeletedError",
    "ConsumerInfo",
    "ConsumerNotFoundError",
    "Counter",
    "CounterEntry",
    "CounterValue",
    "DeadLetter",
    "DeadLetterSubscription",
    "DeliverPolicy",
    "DiscardPolicy",
    "Header",
    "JetStreamContext",
    "JetStreamError",
    "JetStreamManager",
    "JetStreamMessage",
    "JsMsg",
    "MsgMetadata",
    "NotFoundError",
    "OrderedPullSubscription",
    "PeerInfo",
    "Placement",
    "PubAck",
    "PullSubscription",
    "PushSubscription",
    "RawStreamMsg",
    "RePublish",
    "ReplayPolicy",
    "RetentionPolicy",
    "SequenceInfo",
    "SequencePair",
    "ServiceUnavailableError",
    "StorageType",
    "StoreCompression",
    "StreamConfig",
    "StreamInfo",
    "StreamNotFoundError",
    "StreamSource",
    "StreamState",
    "SubjectTransform",
    "counter_from_stream",
    "get_counter",
    "parse_advisory",
    "parse_metadata",
    "publish_msg_batch",
]

# The Key-Value store and Object Store.
from .kv import KeyValue
from .kv_api import (
    KeyValueConfig,
    ObjectInfo,
    ObjectLink,
    ObjectMeta,
    ObjectStoreConfig,
)
from .kv_watch import KeyWatcher
from .object_store import ObjectStore

__all__ += [
    "KeyValue",
    "KeyValueConfig",
    "KeyWatcher",
    "ObjectInfo",
    "ObjectLink",
    "ObjectMeta",
    "ObjectStore",
    "ObjectStoreConfig",
]
