"""House rules for the emulator package: no shared code path with the controller, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[1] / "controller" / "sim"
FORBIDDEN = ("controller.venue", "controller.plan", "controller.observe", "controller.loop")
MODULES = sorted(SIM.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_is_independent_small_and_documented(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.startswith(FORBIDDEN)], "the emulator must not share the controller's code"
    relative = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 1]
    assert not relative, "no imports from outside controller.sim by relative path"
    assert ast.get_docstring(tree), "every module opens with a docstring"
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 420, "split modules over ~400 lines"
