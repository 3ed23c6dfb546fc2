"""``bandctl report``: one self-contained HTML page of the journal's plots (matplotlib, PNGs inlined).

Per market: position and cumulative PnL over time, the fills on the quoted mid's path
(buys and sells in the quoted outcome's terms, marker area by size) and the markout
curve (mean signed mid move per share 0–60 s after a fill). A PnL table heads the page.
Everything the page shows comes from ``pnl``; this module only draws and escapes (market
names are the user's text). It needs matplotlib; it never talks to the exchange.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from controller.journal.document import money
from controller.journal.pnl import (
    MidPath,
    PnlReport,
    compute_pnl,
    mid_paths,
    pnl_series,
    quoting_for,
)
from controller.journal.query import JournalReader, read_journal

CURVE_HORIZONS: tuple[float, ...] = (1, 2, 5, 10, 20, 30, 45, 60)  # mids are sampled once a second
_BUY, _SELL, _LINE, _PNL = "#1a9850", "#d73027", "#4d4d4d", "#2166ac"


def _dt(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _times(values: Sequence[float]) -> Any:
    """Epoch seconds as matplotlib's date numbers (the date axis formats them)."""
    return mdates.date2num([_dt(v) for v in values])


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _time_axis(ax: plt.Axes) -> None:
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(True, alpha=0.3)


def _position_and_pnl(title: str, points: Sequence[tuple[float, Decimal, Decimal]]) -> str:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    times = _times([p[0] for p in points])
    top.step(times, [float(p[1]) for p in points], where="post", color=_LINE)
    top.axhline(0, color="black", linewidth=0.6)
    top.set_ylabel("position (shares)")
    top.set_title(f"{title}: position and cumulative PnL")
    bottom.plot(times, [float(p[2]) for p in points], color=_PNL)
    bottom.axhline(0, color="black", linewidth=0.6)
    bottom.set_ylabel("PnL (collateral)")
    for ax in (top, bottom):
        _time_axis(ax)
    return _png(fig)


def _fills_on_path(title: str, path: MidPath, fills: Sequence[tuple[float, float, float, bool]]) -> str:
    fig, ax = plt.subplots(figsize=(9, 4))
    if path.times:
        ax.step(
            _times(path.times),
            [float(v) for v in path.values],
            where="post",
            color=_LINE,
            linewidth=1,
            label="mid",
        )
    biggest = max((f[2] for f in fills), default=1.0) or 1.0
    scale = 120.0 if len(fills) < 100 else 50.0  # many fills: smaller markers, so the path stays visible
    for bought, colour, marker, label in ((True, _BUY, "^", "we bought"), (False, _SELL, "v", "we sold")):
        chosen = [f for f in fills if f[3] == bought]
        if chosen:
            ax.scatter(
                _times([f[0] for f in chosen]),
                [f[1] for f in chosen],
                s=[scale * (0.2 + f[2] / biggest) for f in chosen],
                c=colour,
                marker=marker,
                label=label,
                alpha=0.8,
                edgecolors="none",
                zorder=3,
            )
    ax.set_ylabel("price of the quoted outcome")
    ax.set_title(f"{title}: fills on the mid's path")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    _time_axis(ax)
    return _png(fig)


def _markout_curve(title: str, curve: Sequence[tuple[float, float | None]], fills: int) -> str:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    known = [(h, v) for h, v in curve if v is not None]
    if known:
        known.insert(0, (0.0, 0.0))  # at the fill itself the mid has not moved, by definition
        ax.plot([h for h, _ in known], [v for _, v in known], marker="o", color=_PNL)
    else:
        ax.text(0.5, 0.5, "no fill with a known mid before and after", ha="center", va="center", transform=ax.transAxes)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("seconds after the fill")
    ax.set_ylabel("mid move per share (+ is good for us)")
    ax.set_title(f"{title}: markouts ({fills} fills)")
    ax.grid(True, alpha=0.3)
    return _png(fig)


def render_report(reader: JournalReader, *, now: float, since: float | None = None) -> str:
    """The page's HTML text."""
    data = read_journal(reader)
    fills = [f for f in data.fills if since is None or f.fill_time >= since]
    mids = [m for m in data.mids if since is None or m.at >= since]
    report = compute_pnl(data.fills, data.mids, now=now, since=since, markets=data.markets, names=data.names)
    curves = compute_pnl(
        data.fills, data.mids, now=now, since=since, markets=data.markets, names=data.names, horizons=CURVE_HORIZONS
    )
    series = pnl_series(data.fills, data.mids, markets=data.markets)
    by_market = {m.condition_id: m for m in data.markets}
    sections = []
    for market, curve in zip(report.markets, curves.markets, strict=True):
        title = market.name or market.condition_id[:12]
        quoting = quoting_for(
            market.condition_id, [f for f in data.fills if f.record.condition_id == market.condition_id], by_market
        )
        path = mid_paths(mids, {market.condition_id: quoting}).get(market.condition_id, MidPath())
        points = [
            (p.at, p.position, p.pnl) for p in series.get(market.condition_id, []) if since is None or p.at >= since
        ]
        dots = []
        for f in fills:
            if f.record.condition_id == market.condition_id and not f.failed:
                quantity, price = quoting.signed(f)
                dots.append((f.fill_time, float(price), float(abs(quantity)), quantity > 0))
        if not points and not path.times:
            sections.append(_section(title, market.condition_id, [], "No fills or mids journaled for this market."))
            continue
        images = []
        if points:
            images.append(_position_and_pnl(title, points))
        images.append(_fills_on_path(title, path, dots))
        points_out = [(m.horizon, None if m.per_share is None else float(m.per_share)) for m in curve.markouts]
        images.append(_markout_curve(title, points_out, curve.markouts[0].fills if curve.markouts else 0))
        sections.append(_section(title, market.condition_id, images))
    return _page(report, sections, _actions_table(reader.action_counts(since), data.names))


def write_report(reader: JournalReader, out: str, *, now: float, since: float | None = None) -> None:
    text = render_report(reader, now=now, since=since)
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(text)


def _section(title: str, condition_id: str, images: Sequence[str], note: str = "") -> str:
    pictures = "\n".join(f'<img alt="{html.escape(title)} plot" src="data:image/png;base64,{b}">' for b in images)
    remark = f"<p>{html.escape(note)}</p>" if note else ""
    return (
        f"<section><h2>{html.escape(title)}</h2><p class=id>{html.escape(condition_id)}</p>{remark}\n{pictures}"
        "</section>"
    )


def _actions_table(counts: Sequence[tuple[str, str, str, int]], names: dict[str, str]) -> str:
    """Order actions by market, kind and reason code: what the controller did and why it was refused."""
    if not counts:
        return "<p>No order actions journaled.</p>"
    rows = "".join(
        f"<tr><td>{html.escape(names.get(c, c[:12]))}</td><td>{html.escape(a)}</td><td>{html.escape(r)}</td>"
        f"<td>{n}</td></tr>"
        for c, a, r, n in counts
    )
    header = "<tr><th>market</th><th>action</th><th>reason</th><th>count</th></tr>"
    return f"<h2>Order actions</h2><table>{header}{rows}</table>"


def _page(report: PnlReport, sections: Sequence[str], actions: str = "") -> str:
    header = ("market", "position", "avg cost", "mid", "realized", "unrealized", "fees", "volume", "fills")
    rows = [
        (
            m.name or m.condition_id[:12],
            money(m.position),
            money(m.average_cost),
            "-" if m.mid is None else money(m.mid),
            money(m.realized),
            money(m.unrealized),
            money(m.fees),
            money(m.volume),
            str(m.fills),
        )
        for m in report.markets
    ]
    t = report.total
    rows.append(
        ("total", "", "", "", money(t.realized), money(t.unrealized), money(t.fees), money(t.volume), str(t.fills))
    )
    table = "<table><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>"
    table += "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    table += "</table>"
    when = _dt(report.as_of).strftime("%Y-%m-%d %H:%M:%S UTC")
    window = "all history" if report.since is None else "since " + _dt(report.since).strftime("%Y-%m-%d %H:%M UTC")
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
        "td,th{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child"
        "{text-align:left}img{display:block;max-width:100%;margin:1em 0}.id{color:#777;font-size:.8em}"
    )
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>bandctl report</title>"
        f"<style>{style}</style></head><body>\n<h1>bandctl report</h1>\n"
        f"<p>{when}, {window}. Average cost on the quoted outcome; realized PnL is net of fees; "
        "unrealized is marked at the last journaled mid.</p>\n"
        f"{table}\n{actions}\n" + "\n".join(sections) + "\n</body></html>\n"
    )
