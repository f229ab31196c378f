"""Operations: nats-server's monitoring endpoints, the RabbitMqAdmin replacement, and
metrics.

- :class:`Monitor`: typed calls to ``/varz``, ``/connz`` (filters, paging), ``/routez``,
  ``/subsz``, ``/jsz``, ``/accountz``, ``/healthz`` over the standard library's HTTP
  client, run off the event loop; results keep fields natswire does not know.
- :class:`NatsAdmin` (alias :data:`RabbitMqAdmin`): ``list_queues`` (the AMQP
  adapter's queues of a namespace, regex and pages), ``delete_queue``,
  ``list_connections`` (from ``/connz``), ``kick_connection`` (system account).
- :mod:`natswire.admin.prometheus`: a ``prometheus_client`` collector over ``nc.stats``
  and the adapter's ``conn.stats`` (extra ``natswire[prometheus]``).
- :mod:`natswire.admin.cli`: ``natswire admin ...`` and ``natswire stats``.
"""

from .errors import (
    AdminError,
    ConnectionNotFoundError,
    MonitoringError,
    SystemAccountRequiredError,
)
from .monitor import DEFAULT_MONITOR_URL, Monitor
from .nats_admin import ConnectionInfo, NatsAdmin, Page, QueueInfo, RabbitMqAdmin
from .types import (
    Accountz,
    ConnInfo,
    Connz,
    Healthz,
    Jsz,
    JszAccount,
    MonitorResult,
    Routez,
    Subsz,
    Varz,
)

__all__ = [
    "DEFAULT_MONITOR_URL",
    "Accountz",
    "AdminError",
    "ConnInfo",
    "ConnectionInfo",
    "ConnectionNotFoundError",
    "Connz",
    "Healthz",
    "Jsz",
    "JszAccount",
    "Monitor",
    "MonitorResult",
    "MonitoringError",
    "NatsAdmin",
    "Page",
    "QueueInfo",
    "RabbitMqAdmin",
    "Routez",
    "Subsz",
    "SystemAccountRequiredError",
    "Varz",
]
