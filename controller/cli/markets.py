"""``bandctl markets --rewards``: list the venue's liquidity-rewards programmes, write manifests.

Reads the public endpoints only (``controller.venue.rewards``); works against production
and the emulator (``--host``). For each programme: its daily rate, max spread, min size,
midpoint and competitiveness, and an estimate of the reward per day per 1,000 of
collateral committed at the minimum size (one order of the min size on each side, half
the max spread from the midpoint; ``docs/rewards.md``). ``--emit-manifests DIR`` writes a
``paused: true`` manifest per listed market with one band fitted to its programme, for a
person to review and unpause in a pull request. Prints and writes files; decides nothing.

The CLI owner registers it with one line in ``controller/cli/main.py``:
``markets.add_commands(sub)``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from controller.plan.rewards import Quote, score, share_of_pool
from controller.venue.errors import VenueError
from controller.venue.rewards import PublicRewardsReader, RewardMarket

EXIT_OK, EXIT_ERROR = 0, 2
PER = Decimal(1000)
_QUANTUM = Decimal("0.0001")


@dataclass(frozen=True)
class Row:
    market: RewardMarket
    reward_per_day: Decimal | None  # a min-size two-sided quote's expected reward
    per_thousand: Decimal | None  # ... per 1,000 of collateral it commits


def estimate_row(market: RewardMarket) -> Row:
    """What one order of the min size on each side, v/2 from the midpoint, is expected to earn."""
    params, mid = market.params, market.midpoint
    if mid is None:
        return Row(market, None, None)
    size = max(params.min_size, Decimal(1))
    half = params.max_distance / 2
    quotes = [Quote("bid", mid - half, size), Quote("ask", mid + half, size)]
    q_min = score(quotes, mid, params).q_min
    share = share_of_pool(q_min, params.competing_score or Decimal(0))
    if share is None or params.daily_rate <= 0:
        return Row(market, Decimal(0), Decimal(0))
    reward = share * params.daily_rate
    committed = size * ((mid - half) + (1 - (mid + half)))  # BUY YES at the bid, BUY NO at 1 - ask
    return Row(market, reward, reward * PER / committed if committed > 0 else None)


def add_commands(subparsers: Any) -> None:
    p = subparsers.add_parser("markets", help="list the venue's markets with a liquidity-rewards programme")
    p.add_argument("--rewards", action="store_true", required=True, help="markets with an active rewards programme")
    p.add_argument("--host", help="CLOB host (default: the venue's configured host, else production)")
    p.add_argument("-o", "--output", choices=["table", "json"], default="table")
    p.add_argument("--min-rate", type=Decimal, default=Decimal(0), metavar="N", help="only rates of at least N a day")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="the N highest-paying (default 20)")
    p.add_argument("--emit-manifests", metavar="DIR", help="write a paused manifest per listed market")
    p.set_defaults(func=run)


def _host(arg: str | None) -> str:
    if arg:
        return arg
    from controller.venue.config import PRODUCTION_CLOB_HOST, VenueConfig

    try:
        return VenueConfig.from_env().clob_host
    except Exception:  # no usable environment: the public endpoints need no credentials
        return PRODUCTION_CLOB_HOST


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    reader = PublicRewardsReader(_host(args.host))
    try:
        programmes = [m for m in reader.current() if m.params.daily_rate >= args.min_rate]
        programmes.sort(key=lambda m: (-m.params.daily_rate, m.condition_id))
        detailed = [reader.market(m.condition_id) or m for m in programmes[: args.limit]]
    except VenueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    rows = [estimate_row(m) for m in detailed]
    rows.sort(key=lambda r: (-(r.per_thousand or Decimal(-1)), r.market.condition_id))
    if args.emit_manifests:
        try:
            written = emit_manifests(rows, Path(args.emit_manifests))
        except OSError as exc:
            print(f"error: {args.emit_manifests}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_ERROR
        note = "paused: review, then unpause"
        print(f"wrote {len(written)} manifest(s) to {args.emit_manifests} ({note})", file=sys.stderr)
    print(json.dumps([row_json(r) for r in rows], indent=2) if args.output == "json" else table(rows))
    return EXIT_OK


def _d(value: Decimal | None, quantum: str = "0.01") -> str:
    return "-" if value is None else format(value.quantize(Decimal(quantum)), "f")


def row_json(r: Row) -> dict[str, Any]:
    p = r.market.params
    return {
        "conditionId": r.market.condition_id,
        "slug": r.market.slug,
        "question": r.market.question,
        "ratePerDay": _d(p.daily_rate),
        "maxSpreadCents": format(p.max_spread.normalize(), "f"),
        "minSize": format(p.min_size.normalize(), "f"),
        "midpoint": None if r.market.midpoint is None else _d(r.market.midpoint, "0.0001"),
        "competitiveness": None if p.competing_score is None else _d(p.competing_score),
        "estRewardPerDay": None if r.reward_per_day is None else _d(r.reward_per_day, "0.0001"),
        "estRewardPerDayPer1000": None if r.per_thousand is None else _d(r.per_thousand),
    }


def table(rows: list[Row]) -> str:
    head = ("CONDITION", "MARKET", "RATE/DAY", "MAX SPREAD", "MIN SIZE", "MID", "COMPETITION", "EST/DAY/1K")
    body = []
    for r in rows:
        j = row_json(r)
        cond = r.market.condition_id
        body.append(
            (
                f"{cond[:8]}…{cond[-4:]}",
                (r.market.slug or r.market.question or "-")[:32],
                j["ratePerDay"],
                f"{j['maxSpreadCents']}c",
                j["minSize"],
                j["midpoint"] or "-",
                j["competitiveness"] or "-",
                j["estRewardPerDayPer1000"] or "-",
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip() for line in (head, *body)]
    return "\n".join(lines) if body else "No markets with an active rewards programme match."


# ---------------------------------------------------------------- manifests


def _name(market: RewardMarket) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", (market.slug or market.condition_id[2:14]).lower()).strip("-")
    return ("rewards-" + base)[:63].rstrip("-")


def _margin(value: Decimal) -> str:
    return format(value.quantize(_QUANTUM, rounding=ROUND_DOWN).normalize(), "f")


def manifest_text(market: RewardMarket) -> str:
    """A paused manifest quoting one band inside the programme's spread, at least its min size."""
    p = market.params
    v = p.max_distance
    size = max(p.min_size, Decimal(5))
    yes = next((t for t in market.tokens if t[1].lower() == "yes"), market.tokens[0] if market.tokens else None)
    no = next((t for t in market.tokens if t is not yes), None)
    if yes is None or no is None:
        raise ValueError(f"{market.condition_id}: the programme lists no tokens")
    amounts = {"min": size, "avg": 2 * size, "max": 4 * size}
    return (
        f"# Written by `bandctl markets --rewards --emit-manifests`: {market.question or market.slug}\n"
        f"# Programme: {_d(p.daily_rate)} a day, max spread {p.max_spread.normalize():f} cents,"
        f" min size {p.min_size.normalize():f}. Review, then set paused: false.\n"
        "apiVersion: bandctl/v1\n"
        "kind: MarketMaker\n"
        "metadata:\n"
        f"  name: {_name(market)}\n"
        "  labels:\n"
        "    source: rewards\n"
        "spec:\n"
        "  market:\n"
        f'    conditionId: "{market.condition_id}"\n'
        "    tokens:\n"
        f'      yes: "{yes[0]}"\n'
        f'      no: "{no[0]}"\n'
        "    quote: yes\n"
        "  bands:\n"
        f"    - {{minMargin: {_margin(v / 6)}, avgMargin: {_margin(v / 3)}, maxMargin: {_margin(2 * v / 3)},"
        f" minAmount: {amounts['min']:f}, avgAmount: {amounts['avg']:f}, maxAmount: {amounts['max']:f}}}\n"
        "  limits:\n"
        f"    maxPosition: {amounts['max'] * 2:f}\n"
        f"    maxCollateral: {amounts['max'] * 2:f}\n"
        "  rewards:\n"
        "    mode: fit\n"
        "  paused: true\n"
    )


def emit_manifests(rows: list[Row], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for r in rows:
        if not r.market.tokens:
            continue
        path = directory / f"{_name(r.market)}.yaml"
        path.write_text(manifest_text(r.market), encoding="utf-8")
        written.append(path)
    return written
