"""The house rules that tools can check: types, lint and formatting, module size and docstrings.

They run in the suite so that a change which breaks them fails like any other test.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MAX_MODULE_LINES = 420  # "none over ~400 lines"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_finds_no_errors_in_the_package() -> None:
    result = run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("command", [("check",), ("format", "--check")])
def test_ruff_is_clean(command: tuple[str, ...]) -> None:
    result = run(str(BIN / "ruff"), *command, ".")
    assert result.returncode == 0, result.stdout[-4000:]


def package_modules() -> list[Path]:
    return sorted(p for p in (ROOT / "controller").rglob("*.py") if p.name != "__main__.py")


@pytest.mark.parametrize("path", package_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_each_module_opens_with_a_docstring_and_stays_small(path: Path) -> None:
    text = path.read_text()
    assert ast.get_docstring(ast.parse(text)), f"{path.relative_to(ROOT)} has no module docstring"
    lines = text.count("\n")
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines (keep modules to ~400)"
