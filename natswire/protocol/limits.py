"""Protocol limits and their defaults."""

from __future__ import annotations

from typing import Final

#: nats-server's own limit for control lines sent by clients.
DEFAULT_MAX_CONTROL_LINE: Final = 4096
#: What a client accepts from a server: INFO lines in large clusters exceed 4 KiB.
DEFAULT_CLIENT_MAX_CONTROL_LINE: Final = 64 * 1024
#: nats-server's default ``max_payload`` (1 MiB).
DEFAULT_MAX_PAYLOAD: Final = 1024 * 1024
