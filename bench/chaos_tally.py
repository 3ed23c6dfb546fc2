"""Running tallies of the chaos run: how long each bad state lasted, what was active then.

Pure state machine fed one exchange snapshot (already judged by ``chaos_figures``) at a
time, with the wall time, the fault in force and whether the exchange itself refused
cancels (then the time is not charged to the controller, and says so). It keeps the worst
case of each figure with the evidence a person needs to find it in the logs: when it
started, which fault was active, which order or band. It reads no clock and does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from chaos_figures import MarketSpec, MarketView

ZERO = Decimal(0)


@dataclass
class Worst:
    """The longest charged streak seen for one figure, with its evidence."""

    seconds: float = 0.0
    started: float = 0.0
    detail: str = ""
    fault: str = ""
    amount: Decimal = ZERO  # largest excess (overfill), or 0


@dataclass
class _Streak:
    started: float
    charged: float = 0.0
    detail: str = ""
    fault: str = ""
    amount: Decimal = ZERO


@dataclass
class Event:
    time: float
    what: str
    fault: str


def _advance(
    streaks: dict[str, _Streak], live: dict[str, tuple[str, Decimal]], t: float, dt: float, charge: bool, fault: str
) -> None:
    """Extend the streaks still present in ``live``, start new ones, end the rest."""
    for key in list(streaks):
        if key not in live:
            del streaks[key]
    for key, (detail, amount) in live.items():
        streak = streaks.get(key)
        if streak is None:
            streaks[key] = _Streak(t, 0.0, detail, fault, amount)
            continue
        if charge:
            streak.charged += dt
        if amount > streak.amount:
            streak.amount, streak.detail = amount, detail
        if fault and fault not in streak.fault:
            streak.fault = f"{streak.fault}, {fault}" if streak.fault else fault


def _worst(streaks: dict[str, _Streak], worst: Worst, key_label: bool = True) -> None:
    for key, s in streaks.items():
        if s.charged > worst.seconds:
            worst.seconds, worst.started, worst.fault = s.charged, s.started, s.fault or "none"
            worst.detail = f"{key}: {s.detail}" if key_label else s.detail
        worst.amount = max(worst.amount, s.amount)


@dataclass
class Tally:
    specs: list[MarketSpec]
    samples: int = 0
    excused_samples: int = 0
    overfill: Worst = field(default_factory=Worst)  # any excess over maxAmount
    overfill_beyond_one: Worst = field(default_factory=Worst)  # excess larger than the band's largest order
    out_of_band: Worst = field(default_factory=Worst)
    position_breaches: list[Event] = field(default_factory=list)
    collateral_breaches: list[Event] = field(default_factory=list)
    switch_firings: list[Event] = field(default_factory=list)  # every order gone with no cancel request
    quoted: list[tuple[float, bool, str]] = field(default_factory=list)  # (time, every band quoted, what is short)
    status_overstated: int = 0
    status_samples: int = 0
    status_evidence: list[Event] = field(default_factory=list)
    health: list[tuple[float, bool]] = field(default_factory=list)  # (time, /healthz answered 200)
    _last: float | None = None
    _last_excused: bool = False
    _over: dict[str, _Streak] = field(default_factory=dict)
    _beyond: dict[str, _Streak] = field(default_factory=dict)
    _oob: dict[str, _Streak] = field(default_factory=dict)
    _ids: frozenset[str] = frozenset()
    _deletes: int = 0
    views: dict[str, MarketView] = field(default_factory=dict)

    def feed(self, t: float, views: dict[str, MarketView], excuse: str, fault: str, deletes: int) -> None:
        """One snapshot at wall time ``t``; ``deletes``: cancel requests the exchange has seen so far."""
        dt = 0.0 if self._last is None else t - self._last
        charge = not excuse and not self._last_excused
        self.samples += 1
        self.excused_samples += bool(excuse)
        over: dict[str, tuple[str, Decimal]] = {}
        beyond: dict[str, tuple[str, Decimal]] = {}
        oob: dict[str, tuple[str, Decimal]] = {}
        short: list[str] = []
        spec_of = {s.name: s for s in self.specs}
        for name, view in views.items():
            spec = spec_of[name]
            for (side, index), (amount, largest) in view.held.items():
                excess = amount - spec.bands[index].max_amount
                if excess > 0:
                    detail = f"held {amount} > maxAmount {spec.bands[index].max_amount} (largest order {largest})"
                    over[f"{name} {side} band {index}"] = (detail, excess)
                    if excess > largest:
                        beyond[f"{name} {side} band {index}"] = (detail, excess)
            for order in view.out_of_band:
                ref = "no reference price" if view.reference is None else f"reference {view.reference}"
                oob[order.id] = (f"{name} {order.text}, {ref}", ZERO)
            short.extend(f"{name} {side} band {i}" for side, i in view.short)
            if abs(view.position) > spec.max_position:
                self.position_breaches.append(Event(t, f"{name} position {view.position} > {spec.max_position}", fault))
            if view.committed > spec.max_collateral:
                what = f"{name} collateral {view.committed} > {spec.max_collateral}"
                self.collateral_breaches.append(Event(t, what, fault))
        for streaks, live, worst in (
            (self._over, over, self.overfill),
            (self._beyond, beyond, self.overfill_beyond_one),
        ):
            _advance(streaks, live, t, dt, charge, fault)
            _worst(streaks, worst)
        _advance(self._oob, oob, t, dt, charge, fault)
        _worst(self._oob, self.out_of_band, key_label=False)
        ids = frozenset(o.id for v in views.values() for o in v.orders)
        if len(self._ids) >= 3 and not ids & self._ids and deletes == self._deletes:
            what = f"all {len(self._ids)} orders gone between two samples without a cancel request"
            self.switch_firings.append(Event(t, what, fault))
        self._ids, self._deletes = ids, deletes
        self.quoted.append((t, not short and bool(views), ", ".join(short)))
        self._last, self._last_excused = t, bool(excuse)
        self.views = views

    def out_of_band_since(self, moment: float) -> list[tuple[str, str]]:
        """(order id, detail) of orders outside every band continuously since ``moment`` or earlier."""
        return [(key, s.detail) for key, s in self._oob.items() if s.started <= moment]

    def bands_over_since(self, moment: float) -> list[str]:
        """Bands over maxAmount continuously since ``moment`` or earlier."""
        return [key for key, s in self._over.items() if s.started <= moment]

    def feed_status(self, t: float, document: dict[str, object], fault: str = "") -> None:
        """Compare the controller's /status Quoting condition with the latest exchange snapshot."""
        manifests = document.get("manifests")
        if not isinstance(manifests, list):
            return
        for manifest in manifests:
            if not isinstance(manifest, dict):
                continue
            view = self.views.get(str(manifest.get("name")))
            conditions = manifest.get("conditions") or []
            quoting = next((c for c in conditions if isinstance(c, dict) and c.get("type") == "Quoting"), None)
            if view is None or quoting is None:
                continue
            self.status_samples += 1
            if quoting.get("status") == "True" and view.short:
                self.status_overstated += 1
                if len(self.status_evidence) < 20:
                    bands = ", ".join(f"{side} band {i}" for side, i in view.short)
                    self.status_evidence.append(
                        Event(t, f"{manifest.get('name')}: Quoting=True, short: {bands}", fault)
                    )


def requote_seconds(quoted: list[tuple[float, bool, str]], end: float, horizon: float) -> tuple[float, bool, str]:
    """(seconds from ``end`` until every band is quoted, whether it happened before ``horizon``, what was short)."""
    last_short = ""
    for t, ok, short in quoted:
        if t < end:
            continue
        if t > horizon:
            break
        if ok:
            return max(0.0, t - end), True, last_short
        last_short = short
    return max(0.0, horizon - end), False, last_short


def unquoted_longest(quoted: list[tuple[float, bool, str]], start: float, end: float) -> tuple[float, str]:
    """The longest stretch inside [start, end] in which some band was short, and what was short."""
    longest, began, what, worst_what = 0.0, None, "", ""
    for t, ok, short in quoted:
        if t < start or t > end:
            continue
        if not ok:
            if began is None:
                began, what = t, short
        elif began is not None:
            if t - began > longest:
                longest, worst_what = t - began, what
            began = None
    if began is not None and end - began > longest:
        longest, worst_what = end - began, what
    return longest, worst_what
