"""Manifest status: Kubernetes-style conditions, the ``/status`` document and ``bandctl status``.

Every manifest carries three conditions. Each has a ``status`` (``True``, ``False`` or
``Unknown``), a CamelCase ``reason``, a human ``message`` and ``lastTransitionTime``: when
the status last changed (not when it was last checked), so "False for 20 minutes" can be
read straight off it.

``Valid``
    The manifest passed validation and its market was found on the exchange, holds the
    manifest's token ids and is accepting orders. ``False`` reasons: ``ManifestInvalid``
    (a bad edit: the last good spec keeps running), ``MarketNotFound``,
    ``TokenMismatch``, ``MarketNotAccepting``.
``Synced``
    The last reconcile executed its plan without errors: every cancel and placement it
    sent was answered and accepted. ``False`` reasons: ``ReconcileFailed`` (an exchange or
    network error; it is retried with backoff), ``OrdersRejected`` (the exchange refused
    some orders). ``Unknown`` with ``NotYetReconciled`` until the first reconcile.
``Quoting``
    Orders are resting in every band on both sides. ``False`` reasons are the planner's
    codes (see the bands document): why the market is pulled (``Paused``,
    ``OutsideSchedule``, ``NoReferencePrice``, ``StaleMarketData``, ``MarketNotInState``,
    ``AlreadyManaged``), or why a band is short (``InsufficientBalance``,
    ``MaxCollateral``, ``MaxPosition``, ``BelowMinOrderSize``, ``NoPriceInBand``,
    ``SizeCapped``), or ``PartiallyQuoting`` (some band holds less than its minAmount of
    resting orders on the exchange, e.g. just after a fill).

The ``/status`` document (``schemas/status.schema.json``)::

    {"time": "...", "ready": true, "streams": {"market": true, "user": true},
     "manifests": [{"name": "demo-btc-150k", "conditionId": "0x…",
       "conditions": [{"type": "Valid", ...}, {"type": "Synced", ...}, {"type": "Quoting", ...}],
       "referencePrice": "0.50", "openOrders": {"bid": [1, 1, 0], "ask": [1, 1, 1]},
       "position": "12.5", "collateral": "4800.00", "lastReconcileTime": "...", "lastError": null}]}

``openOrders`` counts own orders resting in each band, innermost band first.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"
CONDITION_STATUSES = (TRUE, FALSE, UNKNOWN)
VALID, SYNCED, QUOTING = "Valid", "Synced", "Quoting"
CONDITION_TYPES = (VALID, SYNCED, QUOTING)

_CAMEL_CASE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class StatusError(Exception):
    """``bandctl status`` could not get a status document (one line, for the terminal)."""


# -- time -------------------------------------------------------------------------------


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with a ``Z``, whole seconds (as Kubernetes prints condition times)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass an aware (UTC) time")
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"time without a timezone: {text!r}")
    return value.astimezone(UTC)


# -- conditions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str
    last_transition_time: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": format_time(self.last_transition_time),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Condition:
        return cls(
            str(data["type"]),
            str(data["status"]),
            str(data["reason"]),
            str(data.get("message", "")),
            parse_time(str(data["lastTransitionTime"])),
        )


def _status_word(status: str | bool | None) -> str:
    if status is True:
        return TRUE
    if status is False:
        return FALSE
    if status is None:
        return UNKNOWN
    if status not in CONDITION_STATUSES:
        raise ValueError(f"condition status must be one of {CONDITION_STATUSES}, got {status!r}")
    return status


class Conditions:
    """The conditions of one manifest, in a stable order (Valid, Synced, Quoting, then others).

    Not thread-safe: the owner (the controller, under its lock) updates it.
    """

    def __init__(self, types: Iterable[str] = CONDITION_TYPES, now: datetime | None = None) -> None:
        self._items: dict[str, Condition] = {}
        if now is not None:
            for type_ in types:
                self._items[type_] = Condition(type_, UNKNOWN, "Initializing", "", now)

    def set(self, type: str, status: str | bool | None, reason: str, message: str, now: datetime) -> bool:
        """Record a condition; returns whether its status changed.

        ``lastTransitionTime`` moves only when the status changes: a new reason or message
        under the same status keeps the time, so it says how long the status has held.
        """
        word = _status_word(status)
        if not _CAMEL_CASE.match(reason):
            raise ValueError(f"condition reason must be CamelCase, got {reason!r}")
        previous = self._items.get(type)
        changed = previous is None or previous.status != word
        since = now if changed or previous is None else previous.last_transition_time
        self._items[type] = Condition(type, word, reason, message, since)
        return changed

    def get(self, type: str) -> Condition | None:
        return self._items.get(type)

    def is_true(self, type: str) -> bool:
        condition = self._items.get(type)
        return condition is not None and condition.status == TRUE

    def __iter__(self) -> Iterator[Condition]:
        order = {t: i for i, t in enumerate(CONDITION_TYPES)}
        return iter(sorted(self._items.values(), key=lambda c: (order.get(c.type, len(order)), c.type)))

    def __len__(self) -> int:
        return len(self._items)

    def to_json(self) -> list[dict[str, str]]:
        return [c.to_json() for c in self]


# -- the /status document ---------------------------------------------------------------------


def _text(value: Decimal | float | str | None) -> str | None:
    if value is None:
        return None
    # Decimals keep their exponent ("0.50" stays "0.50"); "f" avoids "1E+2".
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def manifest_status(
    name: str,
    condition_id: str,
    conditions: Conditions,
    *,
    reference_price: Decimal | str | None = None,
    open_orders: Mapping[str, Sequence[int]] | None = None,
    position: Decimal | str | None = None,
    collateral: Decimal | str | None = None,
    last_reconcile: datetime | None = None,
    last_error: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One entry of ``manifests`` in the ``/status`` document (decimals as strings)."""
    orders = open_orders or {}
    return {
        "name": name,
        "conditionId": condition_id,
        "labels": dict(labels or {}),
        "conditions": conditions.to_json(),
        "referencePrice": _text(reference_price),
        "openOrders": {"bid": [int(n) for n in orders.get("bid", ())], "ask": [int(n) for n in orders.get("ask", ())]},
        "position": _text(position),
        "collateral": _text(collateral),
        "lastReconcileTime": format_time(last_reconcile) if last_reconcile else None,
        "lastError": last_error,
    }


def status_document(
    now: datetime, ready: bool, streams: Mapping[str, bool], manifests: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The whole ``/status`` document."""
    return {
        "time": format_time(now),
        "ready": bool(ready),
        "streams": {str(k): bool(v) for k, v in streams.items()},
        "manifests": sorted((dict(m) for m in manifests), key=lambda m: str(m.get("name", ""))),
    }


def validate_status(doc: Any) -> list[str]:
    """Problems with ``doc`` against ``schemas/status.schema.json`` (empty when valid)."""
    import jsonschema

    from controller.schemas import load_schema

    # Times are checked by the schema's pattern: the date-time format checker needs an
    # optional package and would silently pass without it.
    validator = jsonschema.Draft202012Validator(load_schema("status.schema.json"))
    problems = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(document)"
        problems.append(f"{where}: {error.message}")
    return problems


# -- rendering ------------------------------------------------------------------------------------

_COLUMNS = ("NAME", "VALID", "SYNCED", "QUOTING", "REF", "BIDS", "ASKS", "POSITION", "PNL", "AGE", "REASON")
_NONE = "<none>"


def human_age(seconds: float) -> str:
    """``3s``, ``2m``, ``5h``, ``3d`` (kubectl style: one unit, rounded down)."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 120 * 60:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _condition_map(entry: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in entry.get("conditions") or () if isinstance(c, Mapping)}


def _first_problem(entry: Mapping[str, Any]) -> str:
    conditions = _condition_map(entry)
    for type_ in (*CONDITION_TYPES, *sorted(set(conditions) - set(CONDITION_TYPES))):
        condition = conditions.get(type_)
        if condition is not None and condition.get("status") != TRUE:
            return str(condition.get("reason") or "")
    return ""


def _bands(counts: Any) -> str:
    if not counts:
        return _NONE
    return ",".join(str(n) for n in counts)


def pnl_text(pnl: Any) -> str:
    """Realized plus unrealized, from the fill journal (``<none>`` without one)."""
    if not isinstance(pnl, Mapping):
        return _NONE
    try:
        total = Decimal(str(pnl.get("realized", "0"))) + Decimal(str(pnl.get("unrealized", "0")))
    except ArithmeticError:
        return "?"
    return format(total.quantize(Decimal("0.01")), "f")


def _age(entry: Mapping[str, Any], now: datetime | None) -> str:
    last = entry.get("lastReconcileTime")
    if not last or now is None:
        return _NONE
    try:
        return human_age((now - parse_time(str(last))).total_seconds())
    except ValueError:
        return "?"


def table_rows(doc: Mapping[str, Any], now: datetime | None = None) -> list[tuple[str, ...]]:
    """The table's rows (header first), one per manifest; AGE is measured at ``now``,
    or at the document's ``time`` (so the output is reproducible) when ``now`` is None."""
    if now is None and doc.get("time"):
        try:
            now = parse_time(str(doc["time"]))
        except ValueError:
            now = None
    rows: list[tuple[str, ...]] = [_COLUMNS]
    for entry in doc.get("manifests") or []:
        conditions = _condition_map(entry)
        orders = entry.get("openOrders") or {}
        rows.append(
            (
                str(entry.get("name", "?")),
                *(str(conditions.get(t, {}).get("status", UNKNOWN)) for t in CONDITION_TYPES),
                str(entry.get("referencePrice") or _NONE),
                _bands(orders.get("bid")),
                _bands(orders.get("ask")),
                str(entry.get("position") or _NONE),
                pnl_text(entry.get("pnl")),
                _age(entry, now),
                _first_problem(entry),
            )
        )
    return rows


AGE_COLUMN = _COLUMNS.index("AGE")


def format_rows(rows: Sequence[tuple[str, ...]], widths: Sequence[int] | None = None) -> list[str]:
    """Rows as lines: three spaces between columns, as kubectl does; no trailing blanks."""
    if widths is None:
        widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return ["   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def render_table(doc: Mapping[str, Any], now: datetime | None = None) -> str:
    """A ``kubectl get``-like table, one row per manifest."""
    if not doc.get("manifests"):
        return "No manifests.\n"
    return "\n".join(format_rows(table_rows(doc, now))) + "\n"


def render(doc: Mapping[str, Any], output: str = "table") -> str:
    """Render for the terminal: ``table`` (default), ``json`` or ``yaml``."""
    if output == "table":
        return render_table(doc)
    if output == "json":
        return json.dumps(doc, indent=2) + "\n"
    if output == "yaml":
        import yaml

        return yaml.safe_dump(json.loads(json.dumps(doc)), sort_keys=False, allow_unicode=True)
    raise ValueError(f"unknown output format {output!r} (table, json or yaml)")


# -- fetching ---------------------------------------------------------------------------------------


def status_url(url: str) -> str:
    """Accept ``http://host:9108``, ``host:9108`` or a full ``…/status`` URL."""
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StatusError(f"not an http(s) URL: {url!r}")
    if parts.path in ("", "/"):
        parts = parts._replace(path="/status")
    return urllib.parse.urlunsplit(parts)


def fetch_status(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """GET the controller's ``/status``; raises :class:`StatusError` with a one-line reason."""
    url = status_url(url)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s) only: checked above
            body = response.read(_MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise StatusError(f"GET {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            hint = "is `bandctl run --http` running?"
            raise StatusError(f"cannot connect to {url}: connection refused ({hint})") from None
        if isinstance(reason, TimeoutError):
            raise StatusError(f"GET {url}: timed out after {timeout:g}s") from None
        if isinstance(reason, socket.gaierror):
            raise StatusError(f"cannot resolve host in {url}: {reason.strerror or reason}") from None
        raise StatusError(f"cannot connect to {url}: {reason}") from None
    except TimeoutError:
        raise StatusError(f"GET {url}: timed out after {timeout:g}s") from None
    except (OSError, ValueError) as exc:
        raise StatusError(f"GET {url}: {exc}") from None
    if len(body) > _MAX_RESPONSE_BYTES:
        raise StatusError(f"GET {url}: response larger than {_MAX_RESPONSE_BYTES} bytes")
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StatusError(f"GET {url}: response is not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("manifests", []), list):
        raise StatusError(f"GET {url}: response is not a bandctl status document")
    return doc
