"""What ``js.subscribe`` does before it subscribes: find the durable push consumer or
create one (plain, queue-group or ordered), as nats-py 2.16 does.

An ordered consumer (ADR-17) is ephemeral, in memory, with one replica, no acks, one
delivery, flow control and idle heartbeats; :class:`.push.PushSubscription` checks its
sequences and replaces it when a message goes missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from .errors import ConsumerNotFoundError, JetStreamError

if TYPE_CHECKING:
    from .context import JetStreamContext

#: The idle heartbeat of an ordered consumer when none is asked for (nats-py's).
DEFAULT_ORDERED_HEARTBEAT = 5.0
#: An ordered consumer nobody listens to is removed by the server after this (nats.go's
#: choice): one left behind by a lost link does not outlive it by long.
DEFAULT_ORDERED_INACTIVE = 5.0
_ORDERED_ACK_WAIT = 22 * 3600.0


def ordered_config(config: ConsumerConfig, idle_heartbeat: float | None) -> ConsumerConfig:
    """``config`` made an ordered consumer's (ADR-17)."""
    return config.evolve(
        name=None,
        durable_name=None,
        deliver_group=None,
        flow_control=True,
        ack_policy=AckPolicy.NONE,
        max_deliver=1,
        ack_wait=_ORDERED_ACK_WAIT,
        idle_heartbeat=idle_heartbeat or config.idle_heartbeat or DEFAULT_ORDERED_HEARTBEAT,
        num_replicas=1,
        mem_storage=True,
        inactive_threshold=config.inactive_threshold or DEFAULT_ORDERED_INACTIVE,
    )


def check_bound(info_config: ConsumerConfig, queue: str | None, push_bound: bool) -> None:
    """Refuse to bind as nats-py does: a queue to a consumer without that deliver group,
    a plain subscription to a consumer with one or already bound."""
    group = info_config.deliver_group
    if info_config.deliver_subject is None:
        raise JetStreamError("consumer is pull based: use pull_subscribe")
    if not group:
        if queue:
            raise JetStreamError(
                "cannot create a queue subscription for a consumer without a deliver group"
            )
        if push_bound:
            raise JetStreamError("consumer is already bound to a subscription")
    elif not queue:
        raise JetStreamError(
            f"cannot create a subscription for a consumer with a deliver group {group}"
        )
    elif queue != group:
        raise JetStreamError(
            f"cannot create a queue subscription {queue} for a consumer "
            f"with a deliver group {group}"
        )


async def find_or_create(
    js: JetStreamContext,
    subject: str,
    stream: str,
    queue: str | None,
    durable: str | None,
    config: ConsumerConfig | None,
    ordered: bool,
    idle_heartbeat: float | None,
    flow_control: bool,
    deliver_policy: DeliverPolicy | None,
    headers_only: bool | None,
    inactive_threshold: float | None,
) -> tuple[str, ConsumerConfig, int]:
    """The consumer ``js.subscribe`` binds to: ``(name, config, start)``; ``start`` is an
    ordered consumer's first stream sequence (see :func:`ordered_start`), else 0."""
    if ordered and (queue or durable):
        raise JetStreamError("an ordered consumer is ephemeral and cannot be in a queue group")
    if durable:
        try:
            info = await js.consumer_info(stream, durable)
        except ConsumerNotFoundError:
            pass
        else:
            check_bound(info.config, queue, bool(info.push_bound))
            return info.name, info.config, 0
    cfg = config.evolve() if config is not None else ConsumerConfig()
    if durable and not cfg.durable_name:
        cfg.durable_name = durable
    if queue and not cfg.deliver_group:
        cfg.deliver_group = queue
    if headers_only and not cfg.headers_only:
        cfg.headers_only = headers_only
    if deliver_policy:
        cfg.deliver_policy = deliver_policy
    if inactive_threshold:
        cfg.inactive_threshold = inactive_threshold
    if cfg.deliver_subject is None:
        cfg.deliver_subject = js.client.new_inbox()
    if not cfg.filter_subjects:
        cfg.filter_subject = subject
    if flow_control:
        cfg.flow_control = True
    if idle_heartbeat:
        cfg.idle_heartbeat = idle_heartbeat
    if ordered:
        cfg = ordered_config(cfg, idle_heartbeat)
    info = await js.add_consumer(stream, cfg)
    return info.name, cfg, ordered_start(cfg, info) if ordered else 0


def ordered_start(config: ConsumerConfig, info: ConsumerInfo) -> int:
    """The stream sequence a new ordered consumer starts at, as the server chose it from
    its deliver policy (``delivered`` is one below it), so that a consumer recreated
    before the first message arrives starts there too: one made with ``NEW`` must not
    replay the stream, nor skip what was published meanwhile. For ``LAST_PER_SUBJECT``
    the start is a single sequence only when nothing matched yet (a watcher of keys not
    set): else 0, and such a consumer is recreated with its policy."""
    if config.deliver_policy == DeliverPolicy.LAST_PER_SUBJECT and info.num_pending:
        return 0
    if config.opt_start_seq:
        return config.opt_start_seq
    return (info.delivered.stream_seq if info.delivered else 0) + 1
