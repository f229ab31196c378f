"""Count the places where natswire reaches into another object's private names.

A reach is an attribute whose name starts with one underscore (``obj._name``, not
``obj.__name__``) used through anything other than ``self``, ``cls`` or ``super()``, or a
relative import of an underscore name (``from .x import _name``); a named tuple's
``_replace``/``_asdict``/``_make``/``_fields`` are public and not counted. Lines that carry a
``# friend:`` comment are deliberate friend calls: they are counted, and listed apart so
a reader sees which ones were chosen on purpose.

Usage: ``python scripts/private_reach.py [--max N] [PATH ...]`` (default: ``natswire/``,
``--max 40``). Exits 1 when the total is over the limit.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "natswire"
DEFAULT_MAX = 40
FRIEND_MARK = "# friend:"
OWN_NAMES = frozenset({"self", "cls"})
#: A named tuple's methods start with an underscore only to stay clear of field names.
NAMEDTUPLE_API = frozenset({"_replace", "_asdict", "_make", "_fields", "_field_defaults"})


@dataclass(frozen=True)
class Reach:
    """One private name used from outside its object."""

    path: Path
    line: int
    name: str
    friend: bool

    def describe(self, base: Path) -> str:
        try:
            shown = self.path.relative_to(base)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}: {self.name}"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in NAMEDTUPLE_API


def _is_own(node: ast.expr) -> bool:
    """``self``, ``cls`` or a ``super()`` call: the object reaching into itself."""
    if isinstance(node, ast.Name):
        return node.id in OWN_NAMES
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def private_names(source: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line, written)`` for every private reach in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            if _is_private(node.attr) and not _is_own(node.value):
                yield node.lineno, f"{ast.unparse(node.value)}.{node.attr}"
        elif isinstance(node, ast.ImportFrom) and node.level:
            for alias in node.names:
                if _is_private(alias.name):
                    module = "." * node.level + (node.module or "")
                    yield node.lineno, f"from {module} import {alias.name}"


def _friend_lines(lines: list[str], line: int) -> bool:
    """Whether the statement at ``line`` (1-based) carries a ``# friend:`` comment.

    The comment may sit on the line itself or on the comment line just above it.
    """
    here = lines[line - 1] if line <= len(lines) else ""
    above = lines[line - 2].strip() if line >= 2 else ""
    return FRIEND_MARK in here or above.startswith(FRIEND_MARK)


def reaches(path: Path) -> list[Reach]:
    """Every private reach in the Python file at ``path``."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    return [
        Reach(path, line, name, _friend_lines(lines, line))
        for line, name in sorted(set(private_names(source)))
    ]


def scan(paths: list[Path]) -> list[Reach]:
    """Every private reach under ``paths`` (files or directories)."""
    found: list[Reach] = []
    for given in paths:
        files = sorted(given.rglob("*.py")) if given.is_dir() else [given]
        for path in files:
            found += reaches(path)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="files or directories")
    parser.add_argument("--max", type=int, default=DEFAULT_MAX, help="largest total allowed")
    args = parser.parse_args(argv)
    paths: list[Path] = args.paths or [DEFAULT_ROOT]
    base = Path.cwd()
    found = scan(paths)
    friends = [reach for reach in found if reach.friend]
    others = [reach for reach in found if not reach.friend]
    for reach in others:
        print(reach.describe(base))
    if friends:
        print(f"\ndeliberate (# friend:), {len(friends)}:")
        for reach in friends:
            print("  " + reach.describe(base))
    total = len(found)
    print(f"\ntotal: {total} ({len(friends)} marked friend), limit {args.max}")
    if total > args.max:
        print(f"over the limit by {total - args.max}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
