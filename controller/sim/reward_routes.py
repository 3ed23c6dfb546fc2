"""Rewards and rebates endpoints, with production's paths and shapes.

Public: ``GET /rewards/markets/current`` (every active programme), ``GET
/rewards/markets/{condition_id}`` (one market's programme, tokens and competitiveness),
``GET /rebates/current?date=&maker_address=``. L2: ``GET /rewards/user`` (earnings by
day and market), ``/rewards/user/total``, ``/rewards/user/percentages`` (the live share
of each market's pool), ``/rewards/user/markets``. Lists page with ``next_cursor``
(``LTE=`` last). Reads the rewards ledger (``rewards``) and the engine; changes nothing.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .auth import SIG_EOA, is_address
from .config import COLLATERAL, PRICE_SCALE
from .httpkit import ApiError, json_response, page
from .model import Market

if TYPE_CHECKING:
    from .server import SimServer

REWARDS_PAGE = 500
USER_PAGE = 100
END_OF_PROGRAMME = "2500-12-31"  # production's "no fixed end"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def rewards_config(m: Market, start_date: str) -> list[dict[str, Any]]:
    programme = m.cfg.rewards
    assert programme is not None
    return [
        {
            "asset_address": COLLATERAL,
            "start_date": start_date,
            "end_date": END_OF_PROGRAMME,
            "rate_per_day": _number(programme.daily_rate),
            "total_rewards": 0,
        }
    ]


class RewardRoutes:
    def __init__(self, server: SimServer) -> None:
        self.s = server

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", "/rewards/markets/current", self.h_current),
            ("GET", "/rewards/markets/{condition_id}", self.h_market),
            ("GET", "/rewards/user", self.h_user),
            ("GET", "/rewards/user/total", self.h_user_total),
            ("GET", "/rewards/user/percentages", self.h_percentages),
            ("GET", "/rewards/user/markets", self.h_user_markets),
            ("GET", "/rebates/current", self.h_rebates),
        ]

    # ------------------------------------------------------------ helpers

    def _programmes(self) -> list[Market]:
        return [m for m in self.s.engine.markets.values() if m.cfg.rewards is not None and m.status == "open"]

    @property
    def _start_date(self) -> str:
        return self.s.rewards_started

    def _current_row(self, m: Market) -> dict[str, Any]:
        programme = m.cfg.rewards
        assert programme is not None
        rate = _number(programme.daily_rate)
        return {
            "condition_id": m.condition_id,
            "rewards_max_spread": _number(programme.max_spread),
            "rewards_min_size": _number(programme.min_size),
            "rewards_config": rewards_config(m, self._start_date),
            "native_daily_rate": rate,
            "total_daily_rate": rate,
            "sponsored_daily_rate": 0,
        }

    def _market_row(self, m: Market) -> dict[str, Any]:
        programme = m.cfg.rewards
        assert programme is not None
        sample = self.s.rewards.latest.get(m.condition_id)

        def token(tok: str, outcome: str) -> dict[str, Any]:
            bb, ba = m.top(tok)
            price = 0.0 if bb is None or ba is None else float(Decimal(bb + ba) / (2 * PRICE_SCALE))
            return {"token_id": tok, "outcome": outcome, "price": price}

        return {
            "condition_id": m.condition_id,
            "question": m.cfg.question,
            "market_slug": m.cfg.name,
            "event_slug": m.cfg.name,
            "image": "",
            "rewards_max_spread": _number(programme.max_spread),
            "rewards_min_size": _number(programme.min_size),
            # The emulator's competitiveness: the sum of every maker's Q_min at the newest sample.
            "market_competitiveness": float(sample.total) if sample is not None else 0.0,
            "tokens": [token(m.cfg.yes, m.cfg.outcomes[0]), token(m.cfg.no, m.cfg.outcomes[1])],
            "rewards_config": rewards_config(m, self._start_date),
        }

    def _date(self, request: web.Request, required: bool = True) -> str:
        date = request.query.get("date", "")
        if not date and not required:
            return self.s.rewards.open_day
        if not _DATE.match(date):
            raise ApiError(400, "invalid date: expected YYYY-MM-DD")
        return date

    async def _maker(self, request: web.Request) -> str:
        key, _ = await self.s.auth.l2(request)
        given = request.query.get("maker_address", "")
        if given:
            if not is_address(given):
                raise ApiError(400, "invalid maker_address")
            return given.lower()
        try:
            sig_type = int(request.query.get("signature_type", "0"))
        except ValueError:
            raise ApiError(400, "Invalid signature_type") from None
        funder, acct_type = self.s.auth.account(key.address)
        return key.address if sig_type == SIG_EOA or sig_type != acct_type else funder

    # ------------------------------------------------------------ public

    async def h_current(self, request: web.Request) -> web.Response:
        rows = [self._current_row(m) for m in self._programmes()]
        return json_response(page(rows, request.query.get("next_cursor"), REWARDS_PAGE))

    async def h_market(self, request: web.Request) -> web.Response:
        m = self.s.engine.markets.get(request.match_info["condition_id"].lower())
        rows = [self._market_row(m)] if m is not None and m.cfg.rewards is not None else []
        return json_response(page(rows, request.query.get("next_cursor"), REWARDS_PAGE))

    async def h_rebates(self, request: web.Request) -> web.Response:
        date = self._date(request)
        maker = request.query.get("maker_address", "")
        if not is_address(maker):
            raise ApiError(400, "invalid maker_address")
        rebated = self.s.rewards.rebated(date, maker.lower())
        return json_response(
            [
                {
                    "date": date,
                    "condition_id": cond,
                    "asset_address": COLLATERAL,
                    "maker_address": maker,
                    "rebated_fees_usdc": format(amount.quantize(Decimal("0.000001")), "f"),
                }
                for cond, amount in sorted(rebated.items())
            ]
        )

    # ------------------------------------------------------------ the account's own

    def _earnings(self, date: str, maker: str) -> list[dict[str, Any]]:
        return [
            {
                "date": date,
                "condition_id": cond,
                "asset_address": COLLATERAL,
                "maker_address": maker,
                "earnings": float(amount),
                "asset_rate": 1.0,
            }
            for cond, amount in sorted(self.s.rewards.earned(date, maker).items())
        ]

    async def h_user(self, request: web.Request) -> web.Response:
        maker = await self._maker(request)
        rows = self._earnings(self._date(request), maker)
        return json_response(page(rows, request.query.get("next_cursor"), USER_PAGE))

    async def h_user_total(self, request: web.Request) -> web.Response:
        maker = await self._maker(request)
        date = self._date(request)
        total = sum(self.s.rewards.earned(date, maker).values(), Decimal(0))
        row = {"date": date, "asset_address": COLLATERAL, "maker_address": maker, "earnings": float(total)}
        return json_response([{**row, "asset_rate": 1.0}])

    def _percentages(self, maker: str) -> dict[str, float]:
        out = {}
        for cond, sample in self.s.rewards.latest.items():
            share = sample.share(maker)
            if share > 0:
                out[cond] = float(share * 100)
        return out

    async def h_percentages(self, request: web.Request) -> web.Response:
        return json_response(self._percentages(await self._maker(request)))

    async def h_user_markets(self, request: web.Request) -> web.Response:
        maker = await self._maker(request)
        date = self._date(request, required=False)
        earned = self.s.rewards.earned(date, maker)
        shares = self._percentages(maker)
        rows = []
        for m in self._programmes():
            row = self._market_row(m)
            row["maker_address"] = maker
            row["earning_percentage"] = shares.get(m.condition_id, 0.0)
            amount = earned.get(m.condition_id, Decimal(0))
            row["earnings"] = [{"asset_address": COLLATERAL, "earnings": float(amount), "asset_rate": 1.0}]
            rows.append(row)
        return json_response(page(rows, request.query.get("next_cursor"), USER_PAGE))
