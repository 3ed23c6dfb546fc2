"""``bandctl status -w``: watch a running controller like ``kubectl get -w``.

Prints the table once, then, on every poll, only the rows that changed (a change of
age alone does not count), each as a full row under the same columns. It fetches and
prints; what the rows mean is :mod:`controller.ops.status`'s business.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

from controller.ops.status import AGE_COLUMN, StatusError, fetch_status, format_rows, table_rows


def _key(row: tuple[str, ...]) -> tuple[str, ...]:
    return row[:AGE_COLUMN] + row[AGE_COLUMN + 1 :]


def watch(
    url: str,
    *,
    interval: float = 2.0,
    timeout: float = 5.0,
    out: IO[str] = sys.stdout,
    fetch: Callable[[str, float], dict[str, Any]] = fetch_status,
    sleep: Callable[[float], None] = time.sleep,
    polls: int | None = None,
    selector: Any = None,
) -> int:
    """Poll ``url`` until interrupted (or ``polls`` times); returns an exit code."""
    seen: dict[str, tuple[str, ...]] = {}
    widths: list[int] | None = None
    count = 0
    while polls is None or count < polls:
        count += 1
        try:
            document = fetch(url, timeout)
            if selector is not None:
                chosen = [m for m in document.get("manifests", []) if selector.matches(m.get("labels") or {})]
                document = {**document, "manifests": chosen}
            rows = table_rows(document)
        except StatusError as exc:
            print(f"error: {exc}", file=sys.stderr)
            if not seen:
                return 2
            sleep(interval)
            continue
        header, body = rows[0], rows[1:]
        if widths is None:
            # Leave room for values that grow (prices, ages, reasons) as kubectl does.
            widths = [max(len(r[i]) for r in rows) + 2 for i in range(len(header))]
            out.write("\n".join(format_rows([header], widths)) + "\n")
        changed = [row for row in body if seen.get(row[0]) is None or _key(seen[row[0]]) != _key(row)]
        if changed:
            out.write("\n".join(format_rows(changed, widths)) + "\n")
            out.flush()
        seen = {row[0]: row for row in body}
        if polls is None or count < polls:
            sleep(interval)
    return 0
