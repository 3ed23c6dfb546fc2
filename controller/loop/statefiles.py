"""Small JSON files in the controller's state directory, written so a crash never leaves half a file.

What must outlive a restart (the orders this controller placed, operator halts) is kept
as one small JSON document per file: written to a temporary file, flushed to disk, then
renamed over the old one, so a reader sees the old document or the new one, never a
mix. Reading is bounded and never raises on bad content: the caller gets a one-line
problem to log. It knows nothing about what the documents mean.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

# A larger file is not ours (or is damaged); reading it whole would cost memory for nothing.
MAX_FILE_BYTES = 16 * 1024 * 1024


class StateFileProblem(Exception):
    """The file exists but cannot be used; ``str()`` is one line naming the file."""


def read_document(path: Path, fmt: int) -> dict[str, Any] | None:
    """The document at ``path`` (None when there is no file); it must carry ``"format": fmt``."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise StateFileProblem(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except StateFileProblem:
        raise
    except (OSError, ValueError, RecursionError) as exc:
        raise StateFileProblem(f"{path}: unreadable ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(document, dict) or document.get("format") != fmt:
        raise StateFileProblem(f'{path}: unreadable (expected a JSON object with "format": {fmt})')
    return document


def write_document(path: Path, document: dict[str, Any]) -> None:
    """Replace ``path`` with ``document`` atomically; raises OSError when it cannot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
