"""Imports point downward only: protocol < client < jetstream < amqp < migrate, and
protocol < sync (the blocking client, over the client's loop-free modules).

Two checks. The first walks the AST of every module under ``natswire/`` (every import
statement, including those inside functions and ``if TYPE_CHECKING:`` blocks, plus
``importlib.import_module`` and ``__import__`` calls with a literal name) and fails when:

- ``natswire/protocol`` imports asyncio, socket, ssl, time, random or logging, or any
  natswire module outside ``natswire.protocol`` (the ``natswire`` package itself
  included, and relative imports that climb out of the package);
- a layer imports a layer above it: client must not import jetstream, micro, amqp,
  migrate, admin or sync; jetstream must not import micro (its sibling over the client),
  amqp, migrate, admin or sync; micro must not import jetstream, amqp, migrate, admin or
  sync; amqp must not import migrate or admin; sync (beside client and jetstream, reusing
  their loop-free parts) must not import micro, amqp, migrate or admin.

The second holds the rule for what loads at run time: each layer is imported in a fresh
interpreter and ``sys.modules`` must hold nothing above it. The root package and
``natswire.errors`` reach the upper layers lazily (module ``__getattr__``), and tests
here check that every name they offer still resolves.

Layers that do not exist yet are simply absent.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "natswire"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

PROTOCOL_FORBIDDEN_STDLIB = frozenset({"asyncio", "socket", "ssl", "time", "random", "logging"})
#: For each layer, the natswire subpackages it must not import.
FORBIDDEN_LAYERS: dict[str, frozenset[str]] = {
    "client": frozenset({"jetstream", "micro", "amqp", "migrate", "admin", "sync"}),
    "jetstream": frozenset({"micro", "amqp", "migrate", "admin", "sync"}),
    "micro": frozenset({"jetstream", "amqp", "migrate", "admin", "sync"}),
    "amqp": frozenset({"migrate", "admin"}),
    "sync": frozenset({"micro", "amqp", "migrate", "admin"}),
}


def module_name(path: Path, root: Path = ROOT) -> tuple[str, bool]:
    """The dotted name of the module at ``path`` and whether it is a package."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def imported_names(
    source: str, module: str, is_package: bool
) -> Iterator[tuple[int, str | None, str]]:
    """Yield ``(line, absolute name or None, as written)`` for every import in ``source``.

    ``from X import a, b`` yields ``X``, ``X.a`` and ``X.b`` (``a`` may be a submodule).
    The name is ``None`` for a relative import that climbs above the top-level package.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            written = "from " + "." * node.level + (node.module or "") + " import ..."
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 >= len(parts):
                    yield node.lineno, None, written
                    continue
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield node.lineno, target, written
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{target}.{alias.name}", written
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            first = node.args[0]
            if (
                name in ("import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and not first.value.startswith(".")
            ):
                yield node.lineno, first.value, f"{name}({first.value!r})"


def _is_within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == PACKAGE else None


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every layering violation in the source of ``module``."""
    found: list[str] = []
    layer = layer_of(module)
    for line, name, written in imported_names(source, module, is_package):
        where = f"{module}:{line}: {written}"
        if name is None:
            found.append(f"{where}: relative import climbs out of the {PACKAGE} package")
            continue
        if layer == "protocol":
            top = name.split(".")[0]
            if top in PROTOCOL_FORBIDDEN_STDLIB:
                found.append(f"{where}: the sans-IO protocol layer must not import {top}")
            elif _is_within(name, PACKAGE) and not _is_within(name, f"{PACKAGE}.protocol"):
                found.append(
                    f"{where}: protocol must not import {name} (outside natswire.protocol)"
                )
        elif layer in FORBIDDEN_LAYERS:
            target = layer_of(name) if _is_within(name, PACKAGE) else None
            if target in FORBIDDEN_LAYERS[layer]:
                found.append(f"{where}: {layer} must not import the higher layer {target}")
    return found


def package_modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_package_is_found() -> None:
    modules = package_modules()
    assert ROOT / "protocol" / "parser.py" in modules
    assert len(modules) >= 5


def test_no_layering_violations() -> None:
    found: list[str] = []
    for path in package_modules():
        module, is_package = module_name(path)
        found += violations(path.read_text(encoding="utf-8"), module, is_package)
    assert not found, "layering violations:\n" + "\n".join(found)


def test_protocol_really_is_checked() -> None:
    """The real protocol modules import json and their siblings, and those are seen."""
    path = ROOT / "protocol" / "framing.py"
    module, is_package = module_name(path)
    assert module == "natswire.protocol.framing" and not is_package
    names = {name for _, name, _ in imported_names(path.read_text(), module, is_package)}
    assert "json" in names
    assert "natswire.protocol.errors" in names


# The checker itself, on synthetic sources: each of these must be caught.
BAD: dict[str, tuple[str, str, bool]] = {
    "protocol-asyncio": ("import asyncio", "natswire.protocol.parser", False),
    "protocol-asyncio-submodule": ("import asyncio.events", "natswire.protocol.parser", False),
    "protocol-from-time": ("from time import monotonic", "natswire.protocol.parser", False),
    "protocol-socket": ("import socket as s", "natswire.protocol.x", False),
    "protocol-ssl": ("import os, ssl", "natswire.protocol.x", False),
    "protocol-random": ("from random import random", "natswire.protocol.x", False),
    "protocol-logging-in-function": (
        "def f():\n    import logging\n",
        "natswire.protocol.x",
        False,
    ),
    "protocol-type-checking": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import asyncio\n",
        "natswire.protocol.x",
        False,
    ),
    "protocol-client-absolute": (
        "from natswire.client import Client",
        "natswire.protocol.x",
        False,
    ),
    "protocol-client-relative": ("from ..client import conn", "natswire.protocol.x", False),
    "protocol-client-relative-bare": ("from .. import client", "natswire.protocol.x", False),
    "protocol-root-package": ("import natswire", "natswire.protocol.x", False),
    "protocol-top-level-errors": ("from natswire.errors import X", "natswire.protocol.x", False),
    "protocol-init-relative": ("from .. import server", "natswire.protocol", True),
    "protocol-climbs-out": ("from ... import anything", "natswire.protocol.x", False),
    "protocol-import-module": (
        "import importlib\nimportlib.import_module('natswire.client')",
        "natswire.protocol.x",
        False,
    ),
    "protocol-dunder-import": ("__import__('asyncio')", "natswire.protocol.x", False),
    "client-jetstream": ("from natswire.jetstream import JetStream", "natswire.client.conn", False),
    "client-amqp-relative": ("from ..amqp import Exchange", "natswire.client.conn", False),
    "client-admin": ("import natswire.admin.monitor", "natswire.client", True),
    "client-migrate-lazy": (
        "def f():\n    from natswire import migrate\n",
        "natswire.client.conn",
        False,
    ),
    "jetstream-amqp": ("from natswire.amqp import x", "natswire.jetstream.api", False),
    "jetstream-migrate": ("from ..migrate.plan import Plan", "natswire.jetstream.api", False),
    "jetstream-admin": ("from .. import admin", "natswire.jetstream", True),
    "client-micro": ("from ..micro import add_service", "natswire.client.conn", False),
    "jetstream-micro": ("import natswire.micro", "natswire.jetstream.api", False),
    "micro-jetstream": ("from ..jetstream import api", "natswire.micro.service", False),
    "micro-amqp": ("from natswire.amqp import x", "natswire.micro", True),
    "micro-admin-lazy": ("def f():\n    import natswire.admin\n", "natswire.micro.cli", False),
    "amqp-migrate": ("import natswire.migrate", "natswire.amqp.queue", False),
    "amqp-admin": ("from natswire.admin import RabbitMqAdmin", "natswire.amqp.queue", False),
    "client-sync": ("from natswire.sync import connect", "natswire.client.conn", False),
    "jetstream-sync": ("from ..sync import Client", "natswire.jetstream.api", False),
    "sync-amqp": ("from ..amqp import Exchange", "natswire.sync.client", False),
    "sync-admin": ("import natswire.admin", "natswire.sync", True),
    "anywhere-climbs-out": ("from .... import x", "natswire.client.conn", False),
}


@pytest.mark.parametrize(("source", "module", "is_package"), BAD.values(), ids=BAD.keys())
def test_checker_catches(source: str, module: str, is_package: bool) -> None:
    assert violations(source, module, is_package), source


GOOD: dict[str, tuple[str, str, bool]] = {
    "protocol-stdlib": (
        "import json, re, enum\nfrom typing import Any",
        "natswire.protocol.x",
        False,
    ),
    "protocol-sibling": ("from .errors import RemoteProtocolError", "natswire.protocol.x", False),
    "protocol-absolute-sibling": (
        "from natswire.protocol import frames",
        "natswire.protocol.x",
        False,
    ),
    "protocol-init": ("from .parser import Parser", "natswire.protocol", True),
    "protocol-timeit-is-not-time": ("import timeit", "natswire.protocol.x", False),
    "client-protocol": (
        "from ..protocol import Parser\nimport asyncio",
        "natswire.client.conn",
        False,
    ),
    "client-sibling": ("from . import pool", "natswire.client", True),
    "jetstream-client": ("from natswire.client import Client", "natswire.jetstream.api", False),
    "amqp-jetstream": (
        "from ..jetstream import api\nfrom ..client import x",
        "natswire.amqp.q",
        False,
    ),
    "migrate-anything": (
        "from natswire.amqp import x\nimport natswire.admin",
        "natswire.migrate.p",
        False,
    ),
    "micro-client": (
        "from ..client import Client\nfrom ..protocol.headers import Headers",
        "natswire.micro.service",
        False,
    ),
    "sync-client-and-protocol": (
        "from ..client.options import ConnectOptions\nfrom ..protocol import Parser",
        "natswire.sync.client",
        False,
    ),
    "sync-jetstream-api": ("from ..jetstream.api import PubAck", "natswire.sync.jetstream", False),
    "admin-client": ("from natswire.client import Client", "natswire.admin.monitor", False),
    "server-beside-layers": ("import asyncio, socket, ssl, time", "natswire.server", False),
}


@pytest.mark.parametrize(("source", "module", "is_package"), GOOD.values(), ids=GOOD.keys())
def test_checker_accepts(source: str, module: str, is_package: bool) -> None:
    assert violations(source, module, is_package) == []


def test_relative_import_resolution() -> None:
    def names(source: str, module: str, is_package: bool) -> set[str | None]:
        return {name for _, name, _ in imported_names(source, module, is_package)}

    assert names("from .errors import X", "natswire.protocol.parser", False) == {
        "natswire.protocol.errors",
        "natswire.protocol.errors.X",
    }
    assert names("from . import frames", "natswire.protocol", True) == {
        "natswire.protocol",
        "natswire.protocol.frames",
    }
    assert names("from .. import client", "natswire.protocol.parser", False) == {
        "natswire",
        "natswire.client",
    }
    assert names("from ... import x", "natswire.protocol.parser", False) == {None}


def test_module_name(tmp_path: Path) -> None:
    root = tmp_path / "natswire"
    assert module_name(root / "protocol" / "parser.py", root) == ("natswire.protocol.parser", False)
    assert module_name(root / "protocol" / "__init__.py", root) == ("natswire.protocol", True)
    assert module_name(root / "__init__.py", root) == ("natswire", True)


# What loads at run time: each import in a fresh interpreter.

#: For each import, the natswire modules (and packages) it may load; anything else fails.
ALLOWED_AT_RUN_TIME: dict[str, tuple[str, ...]] = {
    "natswire": ("natswire", "natswire._version"),
    "natswire.protocol": ("natswire", "natswire._version", "natswire.protocol"),
    "natswire.client": ("natswire", "natswire._version", "natswire.protocol", "natswire.client"),
    "natswire.jetstream": (
        "natswire",
        "natswire._version",
        "natswire.protocol",
        "natswire.client",
        "natswire.jetstream",
    ),
    "natswire.amqp": (
        "natswire",
        "natswire._version",
        "natswire.protocol",
        "natswire.client",
        "natswire.jetstream",
        "natswire.amqp",
    ),
    "natswire.micro": (
        "natswire",
        "natswire._version",
        "natswire.protocol",
        "natswire.client",
        "natswire.micro",
    ),
    "natswire.errors": ("natswire", "natswire._version", "natswire.protocol", "natswire.errors"),
    # The blocking client: no JetStream until ``nc.jetstream()`` asks for it.
    "natswire.sync": (
        "natswire",
        "natswire._version",
        "natswire.protocol",
        "natswire.client",
        "natswire.sync",
    ),
    # nats-py's module paths, aliases of the real modules (natswire.js.api is
    # natswire.jetstream.api): each loads what its real module loads.
    "natswire.js": (
        "natswire",
        "natswire._version",
        "natswire.protocol",
        "natswire.client",
        "natswire.jetstream",
        "natswire.js",
    ),
    "natswire.js.api": (
        "natswire",
        "natswire._version",
        "natswire.protocol",
        "natswire.client",
        "natswire.jetstream",
        "natswire.js",
    ),
    "natswire.js.errors": (
        "natswire",
        "natswire._version",
        "natswire.protocol",
        "natswire.client",
        "natswire.jetstream",
        "natswire.js",
    ),
    "natswire.aio": (
        "natswire",
        "natswire._version",
        "natswire._client",
        "natswire.protocol",
        "natswire.client",
        "natswire.jetstream",
        "natswire.aio",
    ),
    "natswire.aio.client": (
        "natswire",
        "natswire._version",
        "natswire._client",
        "natswire.protocol",
        "natswire.client",
        "natswire.jetstream",
        "natswire.aio",
    ),
}


def modules_loaded_by(statement: str) -> list[str]:
    """The ``natswire`` modules in ``sys.modules`` after ``statement`` in a new interpreter."""
    script = (
        f"import sys\n{statement}\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] == 'natswire')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT.parent,
        timeout=60,
    )
    return done.stdout.split()


def _allowed(module: str, allowed: tuple[str, ...]) -> bool:
    # "natswire" itself is allowed as the package only, not as a prefix of every module.
    return any(module == a or (a != PACKAGE and module.startswith(a + ".")) for a in allowed)


@pytest.mark.parametrize("target", ALLOWED_AT_RUN_TIME)
def test_import_loads_nothing_above_its_layer(target: str) -> None:
    loaded = modules_loaded_by(f"import {target}")
    assert target in loaded
    extra = [m for m in loaded if not _allowed(m, ALLOWED_AT_RUN_TIME[target])]
    assert not extra, f"import {target} loads modules above its layer: {extra}"


def test_protocol_loads_every_protocol_module_and_nothing_else() -> None:
    """Not vacuous: the parser and its siblings are loaded and seen."""
    loaded = modules_loaded_by("import natswire.protocol")
    assert "natswire.protocol.parser" in loaded
    assert all(
        m in ("natswire", "natswire._version") or m.startswith("natswire.protocol") for m in loaded
    ), loaded


def test_root_names_load_on_first_use() -> None:
    loaded = modules_loaded_by("import natswire\nnatswire.connect")
    assert "natswire._client" in loaded and "natswire.jetstream" in loaded
    assert not [m for m in loaded if layer_of(m) in ("amqp", "admin", "migrate")], loaded
    loaded = modules_loaded_by("from natswire import Headers")
    assert "natswire.protocol.headers" in loaded and "natswire.client" not in loaded


def test_sync_loads_jetstream_on_first_use() -> None:
    loaded = modules_loaded_by("import natswire\nnatswire.sync.connect")
    assert "natswire.sync.client" in loaded and "natswire.jetstream" not in loaded, loaded
    loaded = modules_loaded_by("import natswire.sync.jetstream")
    assert "natswire.jetstream.api" in loaded
    assert not [m for m in loaded if layer_of(m) in ("amqp", "admin", "migrate")], loaded


def test_errors_load_their_layer_on_first_use() -> None:
    loaded = modules_loaded_by("from natswire.errors import TimeoutError")
    assert "natswire.client.errors" in loaded
    assert not [m for m in loaded if layer_of(m) in ("jetstream", "amqp", "admin")], loaded
    loaded = modules_loaded_by("import natswire.errors as e\ne.AdminError")
    assert "natswire.admin.errors" in loaded
    loaded = modules_loaded_by("from natswire.errors import ServiceError")
    assert "natswire.micro.errors" in loaded
    assert not [m for m in loaded if layer_of(m) in ("jetstream", "amqp", "admin")], loaded


def test_micro_loads_over_the_client_only() -> None:
    """Not vacuous: the service modules and the client are loaded, nothing beside them."""
    loaded = modules_loaded_by("import natswire\nnatswire.micro.add_service")
    assert "natswire.micro.service" in loaded and "natswire.client.client" in loaded
    assert not [m for m in loaded if layer_of(m) in ("jetstream", "amqp", "admin", "migrate")]


def test_checker_catches_an_upward_load() -> None:
    """The run-time check is not vacuous: amqp is above the client and would be caught."""
    loaded = modules_loaded_by("import natswire.client\nimport natswire.amqp")
    extra = [m for m in loaded if not _allowed(m, ALLOWED_AT_RUN_TIME["natswire.client"])]
    assert "natswire.amqp" in extra


def _type_checking_names(path: Path) -> set[str]:
    """The names the ``if TYPE_CHECKING:`` block of ``path`` imports (as bound)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom):
                    names |= {alias.asname or alias.name for alias in statement.names}
                elif isinstance(statement, ast.Assign):
                    names |= {t.id for t in statement.targets if isinstance(t, ast.Name)}
    return names


@pytest.mark.parametrize("module_name", ["natswire", "natswire.errors"])
def test_lazy_names_resolve_and_are_visible_to_type_checkers(module_name: str) -> None:
    module = importlib.import_module(module_name)
    lazy = set(module._LAZY)  # the lazy table itself is what this test checks
    for name in [*module.__all__, *lazy]:
        assert getattr(module, name) is not None, name
        exec(f"from {module_name} import {name}", {})
    assert lazy <= set(dir(module))
    assert set(module.__all__) <= set(dir(module))
    path = ROOT / ("__init__.py" if module_name == PACKAGE else "errors.py")
    assert _type_checking_names(path) == lazy, "TYPE_CHECKING imports and _LAZY disagree"
    with pytest.raises(AttributeError):
        _ = module.NoSuchName


def test_root_client_is_the_core_client_with_jetstream() -> None:
    import natswire
    import natswire.client

    assert issubclass(natswire.Client, natswire.client.Client)
    assert natswire.NATS is natswire.Client
    assert natswire.Msg is natswire.Message
    assert callable(natswire.Client().jetstream) and callable(natswire.Client().jsm)
    assert isinstance(natswire.errors.TimeoutError(), natswire.errors.NatsWireError)
