"""Seeded synthetic market activity: a drifting fair value, a house market maker, takers.

Flow accounts trade through ``Engine.place``/``Engine.cancel`` exactly like REST users
(only the signature check is skipped), so their orders match against everyone's —
a market maker under test sees fills, inventory and adverse selection:

* fair value: random walk in logit space (stays inside (0, 1)) plus rare jumps;
* house: an account quoting ``levels`` bids and asks around the fair value, re-quoting
  only the levels that changed (BUY YES for bids, BUY NO for asks, so it needs only
  collateral — the unified book mints the pair when a bid meets an ask);
* takers: Poisson arrivals of FAK orders. Informed takers trade only when the book is
  mispriced against the fair value (they pick off stale quotes); noise takers cross
  the spread in a random direction.

Determinism: one ``random.Random`` per market, seeded from (seed, condition id); the
sequence of flow actions depends only on the seed, the config and the number of steps.

Schedule: each market steps once per ``stepSeconds``, market i of n at phase (i+1)/n of
the interval, so many markets spread their steps over the interval instead of bursting
together (``step(n)`` still runs n full rounds at once, for tests and tools).
"""

from __future__ import annotations

import contextlib
import heapq
import math
import random
from collections.abc import Callable

from eth_hash.auto import keccak

from .config import MICRO, PRICE_SCALE, FlowConfig, SimConfig
from .engine import Engine
from .events import OrderRejected, OrderRequest
from .model import ASK, BID, BUY, Market

HOUSE_ADDRESS = "0x00000000000000000000000000000000000b0b5e"
TAKER_ADDRESS = "0x000000000000000000000000000000000007a4e5"
HOUSE_KEY = "00000000-0000-4000-8000-00000000b0b5"
TAKER_KEY = "00000000-0000-4000-8000-0000007a4e50"
FLOW_FUNDS = 10**9 * MICRO  # internal accounts never run dry


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


class MarketFlow:
    def __init__(self, engine: Engine, market: Market, cfg: FlowConfig, seed: int, id_source: Callable[[], str]):
        self.engine = engine
        self.market = market
        self.cfg = cfg
        self.rng = random.Random(f"flow:{seed}:{market.condition_id}")
        self.fair = market.cfg.fair_value
        self.quotes: dict[tuple[int, int], str] = {}  # (book side, yes price) -> house order id
        self.steps = 0
        self.new_id = id_source

    # ------------------------------------------------------------ fair value

    def walk(self, dt: float) -> None:
        x = _logit(self.fair) + self.rng.gauss(0.0, self.cfg.volatility * math.sqrt(dt))
        if self.rng.random() < self.cfg.jump_probability:
            x += self.rng.gauss(0.0, self.cfg.jump_size)
        self.fair = min(0.995, max(0.005, _sigmoid(x)))
        self.engine.check_fair_value_tick(self.market, self.fair)

    # ------------------------------------------------------------ house quotes

    def _targets(self) -> set[tuple[int, int]]:
        h = self.cfg.house
        tick = self.market.tick
        fair = self.fair * PRICE_SCALE
        out: set[tuple[int, int]] = set()
        for i in range(h.levels):
            bid = math.floor((fair - (h.half_spread + i * h.level_step) * PRICE_SCALE) / tick) * tick
            ask = math.ceil((fair + (h.half_spread + i * h.level_step) * PRICE_SCALE) / tick) * tick
            if tick <= bid <= PRICE_SCALE - tick:
                out.add((BID, bid))
            if tick <= ask <= PRICE_SCALE - tick:
                out.add((ASK, ask))
        return out

    def requote(self) -> None:
        if not self.cfg.house.enabled or self.market.status != "open":
            return
        orders = self.engine.orders
        live = {k: oid for k, oid in self.quotes.items() if (o := orders.get(oid)) is not None and o.status == "LIVE"}
        targets = self._targets()
        stale = {k: oid for k, oid in live.items() if k not in targets}
        # Make before break, as real market makers re-quote: the book never blinks empty.
        # Only stale quotes that a new one would cross (a jump) must go first.
        new_bids = [p for side, p in targets - live.keys() if side == BID]
        new_asks = [p for side, p in targets - live.keys() if side != BID]
        crossed = [
            oid
            for (side, price), oid in stale.items()
            if (side == BID and new_asks and price >= min(new_asks))
            or (side != BID and new_bids and price <= max(new_bids))
        ]
        if crossed:
            self.engine.cancel(HOUSE_ADDRESS, crossed)
        self.quotes = {k: oid for k, oid in live.items() if k in targets}
        size = round(self.cfg.house.size * 100) * (MICRO // 100)
        for side, yes_price in sorted(targets - self.quotes.keys()):
            is_bid = side == BID
            req = OrderRequest(
                id=self.new_id(),
                token_id=self.market.cfg.yes if is_bid else self.market.cfg.no,
                side=BUY,
                price=yes_price if is_bid else PRICE_SCALE - yes_price,
                size=max(size, self.market.cfg.min_size),
                owner=HOUSE_ADDRESS,
                maker=HOUSE_ADDRESS,
                api_key=HOUSE_KEY,
            )
            try:
                self.engine.place(req)
            except OrderRejected:
                continue
            self.quotes[(side, yes_price)] = req.id
        rest = [oid for oid in stale.values() if oid not in crossed]
        if rest:
            self.engine.cancel(HOUSE_ADDRESS, rest)

    # ------------------------------------------------------------ takers

    def _poisson(self, lam: float) -> int:
        limit, k, p = math.exp(-lam), 0, self.rng.random()
        while p > limit and k < 100:
            k += 1
            p *= self.rng.random()
        return k

    def takers(self, dt: float) -> None:
        t = self.cfg.takers
        if not t.enabled or t.rate <= 0 or self.market.status != "open":
            return
        for _ in range(self._poisson(t.rate * dt)):
            informed = self.rng.random() < t.informed_fraction
            buy = self.rng.random() < 0.5
            size_shares = self.rng.uniform(t.min_size, max(t.min_size, t.max_size))
            self._take(informed, buy, size_shares)

    def _take(self, informed: bool, buy: bool, size_shares: float) -> None:
        m, tick = self.market, self.market.tick
        bb, ba = m.best_bid(), m.best_ask()
        fair = self.fair * PRICE_SCALE
        if informed:  # trade only against quotes that are wrong by more than a tick
            if ba is not None and ba < fair - tick:
                buy, limit = True, math.floor(fair / tick) * tick
            elif bb is not None and bb > fair + tick:
                buy, limit = False, math.ceil(fair / tick) * tick
            else:
                return
        else:
            mid = fair if bb is None or ba is None else (bb + ba) / 2
            slip = self.cfg.takers.noise_slippage * PRICE_SCALE
            limit = math.ceil((mid + slip) / tick) * tick if buy else math.floor((mid - slip) / tick) * tick
        limit = min(PRICE_SCALE - tick, max(tick, limit))
        # A buyer of YES buys YES; a seller of YES buys NO (needs only collateral: minting).
        token_price = limit if buy else PRICE_SCALE - limit
        size = max(int(size_shares * 100) * (MICRO // 100), m.cfg.min_size)
        size = max(size, -(-MICRO * PRICE_SCALE // token_price // 10_000) * 10_000)  # >= $1 notional
        req = OrderRequest(
            id=self.new_id(),
            token_id=m.cfg.yes if buy else m.cfg.no,
            side=BUY,
            price=token_price,
            size=size,
            owner=TAKER_ADDRESS,
            maker=TAKER_ADDRESS,
            api_key=TAKER_KEY,
            order_type="FAK",
        )
        with contextlib.suppress(OrderRejected):  # nothing to hit: the taker walks away
            self.engine.place(req)


class Flow:
    """All markets' flow plus the step schedule (driven by the engine's clock)."""

    def __init__(self, engine: Engine, config: SimConfig, seed: int, enabled: bool = True) -> None:
        self.engine = engine
        self.enabled = enabled and config.flow_enabled
        self.dt = config.flow_step_seconds
        self.seed = seed
        self.counter = 0
        self.steps = 0
        self.markets: dict[str, MarketFlow] = {}
        for mc in config.markets:
            m = engine.markets[mc.condition_id]
            self.markets[mc.condition_id] = MarketFlow(engine, m, mc.flow, seed, self._new_id)
        for addr in (HOUSE_ADDRESS, TAKER_ADDRESS):
            engine.fund(addr, FLOW_FUNDS)
        # Due times: one per active market, phased evenly over the step interval so that a
        # run with many markets spreads its work instead of bursting all markets at once.
        self._due: list[tuple[float, int]] = []  # (next step time, index into _active())
        self._round = 0  # market steps towards the current full round

    def _new_id(self) -> str:
        self.counter += 1
        return "0x" + keccak(f"bandctl-sim-flow:{self.seed}:{self.counter}".encode()).hex()

    def _active(self) -> list[MarketFlow]:
        return [mf for mf in self.markets.values() if mf.cfg.enabled] if self.enabled else []

    def _schedule(self, now: float) -> None:
        n = len(self._active())
        self._due = [(now + self.dt * (i + 1) / n, i) for i in range(n)]
        heapq.heapify(self._due)
        self._round = 0

    def start(self) -> None:
        self._schedule(self.engine.now())
        for mf in self._active():
            mf.requote()

    def _step_market(self, mf: MarketFlow) -> None:
        mf.steps += 1
        mf.walk(self.dt)
        mf.requote()
        mf.takers(self.dt)

    def step(self, n: int = 1) -> None:
        """n full rounds now: every active market steps once per round (independent of the clock)."""
        for _ in range(n):
            self.steps += 1
            for mf in self._active():
                self._step_market(mf)
            self.engine.fund(TAKER_ADDRESS, FLOW_FUNDS)  # the taker never runs dry

    def step_due(self, max_steps: int = 10_000) -> int:
        """Run the market steps whose time has come on the engine clock; returns how many ran."""
        active = self._active()
        if not active or not self._due:
            return 0
        now, done = self.engine.now(), 0
        while self._due[0][0] <= now and done < max_steps:
            at, i = self._due[0]
            self._step_market(active[i])
            heapq.heapreplace(self._due, (at + self.dt, i))
            self.engine.fund(TAKER_ADDRESS, FLOW_FUNDS)
            done += 1
            self._round += 1
            if self._round == len(active):
                self._round = 0
                self.steps += 1
        if self._due[0][0] <= now:  # hopelessly behind (clock jumped): skip ahead, don't replay hours
            self._schedule(now)
        return done

    def set_fair_value(self, cond: str, value: float) -> None:
        mf = self.markets[cond.lower()]
        mf.fair = value
        self.engine.check_fair_value_tick(mf.market, value)
        if self.enabled and mf.cfg.enabled:
            mf.requote()

    def fair_value(self, cond: str) -> float:
        return self.markets[cond.lower()].fair
