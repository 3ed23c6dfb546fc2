"""Reading the exchange's liquidity-rewards programmes, fee schedules and the account's earnings.

Public reads are plain REST on the venue's configured host (``GET /rewards/markets/current``,
``GET /rewards/markets/{condition_id}``, ``GET /clob-markets/{condition_id}``,
``GET /rebates/current``), decoded once here with bounded JSON into exact Decimals; the
account's own reads (``/rewards/user``, ``/rewards/user/percentages``, ``/orders-scoring``)
go through the official client, which signs them. Every answer is hostile input: a bad one
raises :class:`RewardsWireError` (a one-line :class:`VenueError`), never a crash, and the
planner never sees half-parsed data. Knows nothing about bands; places and cancels nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date as Date
from decimal import Decimal
from typing import Any, Protocol

import httpx

from controller.plan.rewards import RewardParams
from controller.venue.boundedjson import JsonRejected, decode
from controller.venue.errors import VenueError

FIRST_CURSOR, END_CURSOR = "MA==", "LTE="
MAX_PAGES = 200
MAX_BODY = 8 * 1024 * 1024
MAX_DEPTH = 16
_FAR = 10**12


class RewardsWireError(VenueError):
    """An answer of a rewards / fees endpoint is not what production sends."""


@dataclass(frozen=True)
class FeeSchedule:
    """Taker fee ``rate x (p(1-p))^exponent x shares`` (``fd`` of ``GET /clob-markets``)."""

    rate: Decimal
    exponent: int = 1
    taker_only: bool = True

    def taker_fee(self, price: Decimal, shares: Decimal) -> Decimal:
        return shares * self.rate * (price * (1 - price)) ** self.exponent


@dataclass(frozen=True)
class RewardMarket:
    """One row of ``bandctl markets --rewards``: a programme plus what the market looks like now."""

    condition_id: str
    params: RewardParams
    question: str = ""
    slug: str = ""
    tokens: tuple[tuple[str, str, Decimal], ...] = ()  # (token id, outcome, price)

    @property
    def midpoint(self) -> Decimal | None:
        return self.tokens[0][2] if self.tokens and self.tokens[0][2] > 0 else None


class EarningsClient(Protocol):
    """The official client's calls used here (py_clob_client_v2.client.ClobClient)."""

    def get_earnings_for_user_for_day(self, date: str) -> list[Any]: ...
    def get_reward_percentages(self) -> Any: ...
    def are_orders_scoring(self, params: Any = None) -> Any: ...


# ---------------------------------------------------------------- parsing


def _number(value: object, where: str, *, positive: bool = False) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise RewardsWireError(f"{where}: expected a number, got {type(value).__name__}")
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise RewardsWireError(f"{where}: not a number: {str(value)[:40]!r}") from None
    if not number.is_finite() or number < 0 or abs(number) > _FAR or (positive and number <= 0):
        raise RewardsWireError(f"{where}: out of range: {str(value)[:40]!r}")
    return number


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise RewardsWireError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or len(value) > 1000:
        raise RewardsWireError(f"{where}: expected a string")
    return value


def daily_rate(configs: object, where: str, today: Date | None = None) -> Decimal:
    """The sum of ``rate_per_day`` over the programme's configs active ``today`` (all if None)."""
    if configs is None:
        return Decimal(0)
    if not isinstance(configs, list):
        raise RewardsWireError(f"{where}: expected a list")
    total = Decimal(0)
    for i, raw in enumerate(configs):
        cfg = _obj(raw, f"{where}[{i}]")
        start, end = str(cfg.get("start_date") or ""), str(cfg.get("end_date") or "")
        if today is not None and ((start and start[:10] > today.isoformat()) or (end and end[:10] < today.isoformat())):
            continue
        total += _number(cfg.get("rate_per_day", 0), f"{where}[{i}].rate_per_day")
    return total


def parse_programme(row: object, where: str, today: Date | None = None) -> RewardMarket:
    """One element of ``/rewards/markets/current`` or ``/rewards/markets/{condition_id}``."""
    r = _obj(row, where)
    cond = _text(r.get("condition_id"), f"{where}.condition_id").lower()
    if not (cond.startswith("0x") and len(cond) == 66):
        raise RewardsWireError(f"{where}.condition_id: not a condition id: {cond[:70]!r}")
    competing = r.get("market_competitiveness")
    params = RewardParams(
        max_spread=_number(r.get("rewards_max_spread"), f"{where}.rewards_max_spread", positive=True),
        min_size=_number(r.get("rewards_min_size", 0), f"{where}.rewards_min_size"),
        daily_rate=daily_rate(r.get("rewards_config"), f"{where}.rewards_config", today),
        competing_score=None if competing is None else _number(competing, f"{where}.market_competitiveness"),
    )
    tokens = []
    raw_tokens = r.get("tokens") or []
    if not isinstance(raw_tokens, list):
        raise RewardsWireError(f"{where}.tokens: expected a list")
    for i, raw in enumerate(raw_tokens):
        t = _obj(raw, f"{where}.tokens[{i}]")
        price = _number(t.get("price", 0), f"{where}.tokens[{i}].price")
        tokens.append((_text(t.get("token_id"), f"{where}.tokens[{i}].token_id"), str(t.get("outcome", "")), price))
    question = r.get("question")
    return RewardMarket(
        cond, params, question if isinstance(question, str) else "", str(r.get("market_slug") or ""), tuple(tokens)
    )


def parse_fee_schedule(body: object, where: str) -> FeeSchedule | None:
    """``fd`` of ``GET /clob-markets/{condition_id}``; None for a fee-free market."""
    fd = _obj(body, where).get("fd")
    if fd is None:
        return None
    fd = _obj(fd, f"{where}.fd")
    rate = _number(fd.get("r", 0), f"{where}.fd.r")
    exponent = fd.get("e", 1)
    if isinstance(exponent, bool) or not isinstance(exponent, int | Decimal) or not 0 <= int(exponent) <= 8:
        raise RewardsWireError(f"{where}.fd.e: expected a small integer")
    if rate == 0:
        return None
    return FeeSchedule(rate, int(exponent) or 1, bool(fd.get("to", True)))


# ---------------------------------------------------------------- public REST


class PublicRewardsReader:
    """Unauthenticated reads on one host (production's, or the emulator's)."""

    def __init__(self, host: str, *, http: httpx.Client | None = None, timeout: float = 10.0) -> None:
        self.host = host.rstrip("/")
        self.http = http or httpx.Client(timeout=timeout)

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        try:
            answer = self.http.get(self.host + path, params=params)
        except httpx.HTTPError as exc:
            raise VenueError(f"GET {path}: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise VenueError(f"GET {path}: HTTP {answer.status_code}: {answer.text[:200]}")
        try:
            return decode(answer.content, max_bytes=MAX_BODY, max_depth=MAX_DEPTH)
        except JsonRejected as exc:
            raise RewardsWireError(f"GET {path}: {exc}") from None

    def _pages(self, path: str) -> Iterator[Any]:
        cursor = FIRST_CURSOR
        for _ in range(MAX_PAGES):
            page = _obj(self._get(path, {"next_cursor": cursor}), f"GET {path}")
            data = page.get("data")
            if not isinstance(data, list):
                raise RewardsWireError(f"GET {path}: data: expected a list")
            yield from data
            nxt = page.get("next_cursor")
            if nxt in (END_CURSOR, "", None) or nxt == cursor:
                return
            cursor = _text(nxt, f"GET {path}.next_cursor")
        raise RewardsWireError(f"GET {path}: more than {MAX_PAGES} pages")

    def current(self, today: Date | None = None) -> list[RewardMarket]:
        """Every active programme (``/rewards/markets/current``), without tokens or competitiveness."""
        return [
            parse_programme(row, f"rewards/markets/current[{i}]", today)
            for i, row in enumerate(self._pages("/rewards/markets/current"))
        ]

    def market(self, condition_id: str, today: Date | None = None) -> RewardMarket | None:
        """One market's programme with its tokens and competitiveness; None without a programme."""
        path = f"/rewards/markets/{condition_id}"
        rows = list(self._pages(path))
        return parse_programme(rows[0], path.lstrip("/"), today) if rows else None

    def fee_schedule(self, condition_id: str) -> FeeSchedule | None:
        path = f"/clob-markets/{condition_id}"
        return parse_fee_schedule(self._get(path), path.lstrip("/"))

    def rebates(self, day: Date, maker_address: str) -> dict[str, Decimal]:
        """Condition id -> the maker's rebated fees on ``day`` (``/rebates/current``)."""
        body = self._get("/rebates/current", {"date": day.isoformat(), "maker_address": maker_address})
        if not isinstance(body, list):
            raise RewardsWireError("GET /rebates/current: expected a list")
        out: dict[str, Decimal] = {}
        for i, raw in enumerate(body):
            row = _obj(raw, f"rebates/current[{i}]")
            cond = _text(row.get("condition_id"), f"rebates/current[{i}].condition_id").lower()
            amount = _number(row.get("rebated_fees_usdc", 0), f"rebates/current[{i}].rebated_fees_usdc")
            out[cond] = out.get(cond, Decimal(0)) + amount
        return out


def fetch_rewards(reader: PublicRewardsReader, condition_ids: Iterable[str]) -> dict[str, RewardParams]:
    """Condition id -> its programme, for the managed markets that have one (the resync read)."""
    out = {}
    for cond in condition_ids:
        found = reader.market(cond)
        if found is not None:
            out[cond.lower()] = found.params
    return out


def fetch_fee_schedules(reader: PublicRewardsReader, condition_ids: Iterable[str]) -> dict[str, FeeSchedule]:
    """Condition id -> fee schedule, for the fee-bearing ones."""
    out = {}
    for cond in condition_ids:
        schedule = reader.fee_schedule(cond)
        if schedule is not None:
            out[cond.lower()] = schedule
    return out


# ---------------------------------------------------------------- the account's own (official client)


def user_earnings(client: EarningsClient, day: Date) -> dict[str, Decimal]:
    """Condition id -> what the account earned on ``day`` so far (``GET /rewards/user``)."""
    rows = client.get_earnings_for_user_for_day(day.isoformat())
    if not isinstance(rows, list):
        raise RewardsWireError("GET /rewards/user: expected a list")
    out: dict[str, Decimal] = {}
    for i, raw in enumerate(rows):
        row = _obj(raw, f"rewards/user[{i}]")
        cond = _text(row.get("condition_id"), f"rewards/user[{i}].condition_id").lower()
        rate = _number(row.get("asset_rate", 1) or 1, f"rewards/user[{i}].asset_rate")
        out[cond] = out.get(cond, Decimal(0)) + _number(row.get("earnings", 0), f"rewards/user[{i}].earnings") * rate
    return out


def reward_percentages(client: EarningsClient) -> dict[str, Decimal]:
    """Condition id -> the account's live share of the market's pool, in percent."""
    body = _obj(client.get_reward_percentages(), "GET /rewards/user/percentages")
    return {str(k).lower(): _number(v, f"rewards/user/percentages.{k}") for k, v in body.items()}


def orders_scoring(client: EarningsClient, order_ids: list[str]) -> dict[str, bool]:
    """Order id -> whether it scores now (``POST /orders-scoring``)."""
    from py_clob_client_v2.clob_types import OrdersScoringParams

    if not order_ids:
        return {}
    body = _obj(client.are_orders_scoring(OrdersScoringParams(orderIds=order_ids)), "POST /orders-scoring")
    return {i: body.get(i) is True for i in order_ids}
