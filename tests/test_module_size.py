"""Small modules that each own one thing: no module of the package over 650 lines."""

from __future__ import annotations

from pathlib import Path

import natswire

LIMIT = 650


def test_no_module_is_over_the_line_limit() -> None:
    root = Path(natswire.__file__).parent
    sizes = {
        str(path.relative_to(root)): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(root.rglob("*.py"))
    }
    assert len(sizes) > 100  # the whole package was read
    over = {name: size for name, size in sizes.items() if size > LIMIT}
    assert not over, f"modules over {LIMIT} lines (split them): {over}"
