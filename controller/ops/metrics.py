"""Prometheus metrics for the live controller.

Everything lives in one :class:`Metrics` object that owns its own
``CollectorRegistry``: no module-level collectors, so tests (and two controllers in one
process) never fight over the global default registry.

Label cardinality stays bounded on purpose: ``manifest``/``market`` is a manifest name
(bounded by the manifests deployed), ``side`` is bid/ask, ``reason`` is one of a small
fixed vocabulary (free text from the planner or the exchange is mapped onto it by
:func:`reason_label`), ``endpoint`` is a REST path with ids collapsed
(:func:`endpoint_label`) and ``status`` an HTTP code or a short word.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable
from decimal import Decimal
from importlib import metadata
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from controller.plan.reasons import CancelReason, metric_label

RECONCILE_RESULTS = ("ok", "error", "rejected", "waiting")
RELOAD_RESULTS = ("applied", "rejected")
SIDES = ("bid", "ask")
HOLD_REASONS = ("Halted", "LossLimit", "SharpMove")

# Exchange rejections not tied to one placement (a refused cancel).
CANCEL_REFUSED = "cancel_refused"

_ID_SEGMENT = re.compile(r"^(0x[0-9a-fA-F]+|[0-9]{4,}|[0-9a-fA-F-]{16,})$")
_MAX_ENDPOINT_LENGTH = 64


def endpoint_label(endpoint: str) -> str:
    """``/data/order/0xabc…?x=1`` → ``/data/order/:id``: one series per route, not per id."""
    path = endpoint.split("?", 1)[0].split("#", 1)[0]
    segments = [":id" if _ID_SEGMENT.match(s) else s for s in path.split("/")]
    return "/".join(segments)[:_MAX_ENDPOINT_LENGTH] or "/"


def _status_label(status: int | str) -> str:
    return str(status)[:16] or "unknown"


def _number(value: float | int | Decimal | str) -> float:
    # Decimals and decimal strings arrive from the observed state; a gauge wants a float.
    return float(Decimal(value) if isinstance(value, str) else value)


def _version() -> str:
    try:
        return metadata.version("bandctl")
    except metadata.PackageNotFoundError:
        return "unknown"


class Metrics:
    """The controller's metrics. Methods are thread-safe (prometheus-client locks)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        # Before the first heartbeat the age counts from start: an alert on a large age
        # then also catches a controller that never managed to heartbeat at all.
        self._last_heartbeat = clock()
        r = self.registry

        Gauge("bandctl_build_info", "Build information (always 1).", ["version"], registry=r).labels(_version()).set(1)
        self._reconcile_seconds = Histogram(
            "bandctl_reconcile_duration_seconds",
            "Time spent in one reconcile of a manifest.",
            ["manifest"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self._reconciles = Counter(
            "bandctl_reconciles", "Reconciles by result (ok, error, rejected).", ["manifest", "result"], registry=r
        )
        self._placed = Counter("bandctl_orders_placed", "Orders placed.", ["market"], registry=r)
        self._cancelled = Counter(
            "bandctl_orders_cancelled", "Orders cancelled, by reason.", ["market", "reason"], registry=r
        )
        self._rejected = Counter(
            "bandctl_orders_rejected",
            "Order placements or cancels the exchange refused, by reason.",
            ["market", "reason"],
            registry=r,
        )
        self._api_seconds = Histogram(
            "bandctl_api_request_duration_seconds",
            "Exchange REST request latency.",
            ["endpoint"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self._api_errors = Counter(
            "bandctl_api_request_errors",
            "Exchange REST requests that failed, by endpoint and status.",
            ["endpoint", "status"],
            registry=r,
        )
        self._ws_reconnects = Counter(
            "bandctl_ws_reconnects", "WebSocket reconnects by channel.", ["channel"], registry=r
        )
        self._ws_lag = Histogram(
            "bandctl_ws_message_lag_seconds",
            "Exchange timestamp to receipt of a WebSocket message.",
            ["channel"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )
        self._quotes = Gauge(
            "bandctl_quotes_in_band", "Own orders resting inside a band.", ["manifest", "side"], registry=r
        )
        self._position = Gauge(
            "bandctl_position_shares",
            "Net position: shares of the quoted outcome minus its complement.",
            ["manifest"],
            registry=r,
        )
        self._collateral = Gauge(
            "bandctl_collateral", "Collateral available to the manifest's account.", ["manifest"], registry=r
        )
        heartbeat = Gauge(
            "bandctl_exchange_heartbeat_age_seconds",
            "Seconds since the last successful exchange heartbeat (since start before the first).",
            registry=r,
        )
        heartbeat.set_function(self.heartbeat_age)
        self._heartbeat_failures = Counter(
            "bandctl_exchange_heartbeat_failures", "Exchange heartbeat attempts that failed.", registry=r
        )
        self._band_orders = Gauge(
            "bandctl_band_orders",
            "Own orders resting in each band (0 = innermost).",
            ["manifest", "side", "band"],
            registry=r,
        )
        self._conditions = Gauge(
            "bandctl_manifest_condition",
            "A manifest's conditions: 1 True, 0 False, -1 Unknown; the reason is a label.",
            ["manifest", "type", "reason"],
            registry=r,
        )
        self._condition_reasons: dict[tuple[str, str], str] = {}
        self._band_labels: dict[str, set[tuple[str, str]]] = {}  # manifest -> its (side, band) series
        self._budget_remaining = Gauge(
            "bandctl_rate_budget_remaining", "Tokens left in the client-side rate budget.", ["bucket"], registry=r
        )
        self._budget_capacity = Gauge(
            "bandctl_rate_budget_capacity", "Burst size of the client-side rate budget.", ["bucket"], registry=r
        )
        self._pnl = Gauge(
            "bandctl_pnl",
            "PnL in collateral from the fill journal (kind: realized, unrealized).",
            ["manifest", "kind"],
            registry=r,
        )
        self._rewards_scoring = Gauge(
            "bandctl_rewards_orders_scoring",
            "Own orders the exchange says score for liquidity rewards.",
            ["manifest"],
            registry=r,
        )
        self._rewards_earned = Gauge(
            "bandctl_rewards_earned_today",
            "Liquidity rewards earned today (UTC), in collateral.",
            ["manifest"],
            registry=r,
        )
        self._holds = Gauge(
            "bandctl_hold",
            "1 while a manifest (or * for all) is held: Halted, LossLimit or SharpMove.",
            ["manifest", "reason"],
            registry=r,
        )
        self._worker_restarts = Counter(
            "bandctl_worker_restarts",
            "Reconcile workers that died unexpectedly and were restarted (a bug: alert on any).",
            registry=r,
        )
        self._reloads = Counter(
            "bandctl_manifest_reloads", "Manifest reload results (applied, rejected).", ["result"], registry=r
        )
        # Show every result at 0 from the start, so rate() and absent() alerts work at once.
        for result in RELOAD_RESULTS:
            self._reloads.labels(result)

    # -- reconcile ------------------------------------------------------------------

    def observe_reconcile(self, name: str, seconds: float, result: str) -> None:
        """One reconcile of manifest ``name``; ``result`` is ok, error, rejected or waiting (no data yet)."""
        if result not in RECONCILE_RESULTS:
            raise ValueError(f"reconcile result must be one of {RECONCILE_RESULTS}, got {result!r}")
        self._reconcile_seconds.labels(name).observe(max(0.0, seconds))
        self._reconciles.labels(name, result).inc()

    # -- orders ---------------------------------------------------------------------

    def order_placed(self, name: str, n: int = 1) -> None:
        self._placed.labels(name).inc(n)

    def order_cancelled(self, name: str, reason: CancelReason, n: int = 1) -> None:
        """``reason`` is the planner's code; the label is its fixed snake_case form."""
        self._cancelled.labels(name, metric_label(reason)).inc(n)

    def order_rejected(self, name: str, code: str, n: int = 1) -> None:
        """``code`` is a typed problem code (the venue's ``PlaceProblem`` value, or
        :data:`CANCEL_REFUSED`), never an exchange message: label values stay few."""
        self._rejected.labels(name, code).inc(n)

    # -- exchange I/O -----------------------------------------------------------------

    def api_request(self, endpoint: str, seconds: float, status: int | str) -> None:
        """One REST request; ``status`` is the HTTP code, or a word (``timeout``) when none came.

        Anything but a 2xx/3xx code counts as an error too.
        """
        endpoint = endpoint_label(endpoint)
        self._api_seconds.labels(endpoint).observe(max(0.0, seconds))
        if not (isinstance(status, int) and 200 <= status < 400):
            self._api_errors.labels(endpoint, _status_label(status)).inc()

    def ws_reconnect(self, channel: str) -> None:
        self._ws_reconnects.labels(channel).inc()

    def ws_lag(self, channel: str, seconds: float) -> None:
        # Clock skew between the exchange and us can make the lag negative: count it as 0.
        if math.isfinite(seconds):
            self._ws_lag.labels(channel).observe(max(0.0, seconds))

    def heartbeat_ok(self, now_monotonic: float | None = None) -> None:
        """A heartbeat succeeded at ``now_monotonic`` (default: the metrics clock now)."""
        self._last_heartbeat = self._clock() if now_monotonic is None else now_monotonic

    def heartbeat_failed(self) -> None:
        self._heartbeat_failures.inc()

    def set_band_orders(self, name: str, counts: dict[str, list[int]]) -> None:
        """Each band's count; the series of bands a reload removed go."""
        labels = {(side, str(band)) for side, per_band in counts.items() for band in range(len(per_band))}
        for gone in self._band_labels.get(name, set()) - labels:
            _remove(self._band_orders, name, *gone)
        self._band_labels[name] = labels
        for side, per_band in counts.items():
            for band, n in enumerate(per_band):
                self._band_orders.labels(name, side, str(band)).set(n)

    def set_condition(self, name: str, kind: str, status: str, reason: str) -> None:
        """The current status of one condition; the series of its previous reason is removed."""
        previous = self._condition_reasons.get((name, kind))
        if previous is not None and previous != reason:
            _remove(self._conditions, name, kind, previous)
        self._condition_reasons[(name, kind)] = reason
        self._conditions.labels(name, kind, reason).set({"True": 1, "False": 0}.get(status, -1))

    def watch_ws_rejects(self, totals: Callable[[], dict[str, dict[str, int]]]) -> None:
        """Export the streams' dropped frames (``{channel: {reason: n}}``) at every scrape."""
        self.registry.register(_RejectsCollector(totals))

    def watch_rate_budget(self, buckets: dict[str, Any]) -> None:
        """Export what the rate budget's buckets (``available()``, ``burst``) have left."""
        for name, bucket in buckets.items():
            self._budget_remaining.labels(name).set_function(bucket.available)
            self._budget_capacity.labels(name).set(bucket.burst)

    def set_pnl(self, name: str, realized: Decimal, unrealized: Decimal) -> None:
        self._pnl.labels(name, "realized").set(_number(realized))
        self._pnl.labels(name, "unrealized").set(_number(unrealized))

    def set_rewards(self, name: str, orders_scoring: int, earned_today: Decimal | None) -> None:
        self._rewards_scoring.labels(name).set(orders_scoring)
        if earned_today is not None:
            self._rewards_earned.labels(name).set(_number(earned_today))

    def hold(self, name: str, reason: str | None) -> None:
        """A hold was put on ``name`` (``reason``), or lifted (``None``)."""
        for known in HOLD_REASONS:
            if known == reason:
                self._holds.labels(name, known).set(1)
            else:
                _remove(self._holds, name, known)

    def worker_restart(self) -> None:
        self._worker_restarts.inc()

    def heartbeat_age(self) -> float:
        return max(0.0, self._clock() - self._last_heartbeat)

    # -- per-manifest state -------------------------------------------------------------

    def set_quotes_in_band(self, name: str, side: str, n: int) -> None:
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        self._quotes.labels(name, side).set(n)

    def set_position(self, name: str, shares: float | Decimal | str) -> None:
        self._position.labels(name).set(_number(shares))

    def set_collateral(self, name: str, amount: float | Decimal | str) -> None:
        self._collateral.labels(name).set(_number(amount))

    def forget_manifest(self, name: str) -> None:
        """Drop the gauges of a manifest that was deleted (counters keep their history)."""
        for side in SIDES:
            _remove(self._quotes, name, side)
        for labels in [k for k in self._condition_reasons if k[0] == name]:
            _remove(self._conditions, name, labels[1], self._condition_reasons.pop(labels))
        for side, band in self._band_labels.pop(name, set()):
            _remove(self._band_orders, name, side, band)
        for kind in ("realized", "unrealized"):
            _remove(self._pnl, name, kind)
        for gauge in (self._position, self._collateral, self._rewards_scoring, self._rewards_earned):
            _remove(gauge, name)
        for reason in HOLD_REASONS:
            _remove(self._holds, name, reason)

    def reload(self, result: str) -> None:
        if result not in RELOAD_RESULTS:
            raise ValueError(f"reload result must be one of {RELOAD_RESULTS}, got {result!r}")
        self._reloads.labels(result).inc()

    # -- exposition -----------------------------------------------------------------------

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (what ``/metrics`` serves)."""
        return generate_latest(self.registry)


class _RejectsCollector:
    """``bandctl_ws_rejected_total{channel, reason}``, read from the streams' own counts."""

    def __init__(self, totals: Callable[[], dict[str, dict[str, int]]]) -> None:
        self._totals = totals

    def describe(self) -> list[CounterMetricFamily]:
        return [self._family()]

    def collect(self) -> list[CounterMetricFamily]:
        family = self._family()
        try:
            totals = self._totals()
        except Exception:  # a scrape must never fail because a stream is being torn down
            totals = {}
        for channel, reasons in totals.items():
            for reason, count in reasons.items():
                family.add_metric([channel, reason], count)
        return [family]

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily(
            "bandctl_ws_rejected", "WebSocket frames and events dropped as malformed.", labels=["channel", "reason"]
        )


def _remove(metric: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
