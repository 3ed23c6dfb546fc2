"""Shared pieces for tests that run the live controller against the emulator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import sim_helpers
import yaml

from controller.loop.controller import DEMO_PRIVATE_KEY, Controller, LiveOptions
from controller.loop.heartbeat import HeartbeatPolicy
from controller.observe.state import Balances, Book, Level, MarketState, ObservedState, OpenOrder
from controller.ops.redact import Secret
from controller.plan.bands import plan_market
from controller.spec.manifest import load_manifests
from controller.venue.client import Venue, VenueConfig

DEMO_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BTC = "0xf552cc5023d8319aea1181f76f3adcbdc189941acf780de956fe5d1483d7a598"
BTC_YES = "3908542853943523934563267656964073640771816313906088687248131241679293562125"
BTC_NO = "2922792765173274317840968115438063166138049552511689109087648014870300294313"
# A second public test key (hardhat account #1): the "other trader" that takes our quotes.
TAKER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
TAKER_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

MANIFEST = f"""\
apiVersion: bandctl/v1
kind: MarketMaker
metadata:
  name: btc
spec:
  market:
    conditionId: "{BTC}"
    tokens: {{yes: "{BTC_YES}", no: "{BTC_NO}"}}
  bands:
    - {{minMargin: 0.005, avgMargin: 0.01, maxMargin: 0.02, minAmount: 10, avgAmount: 20, maxAmount: 30}}
    - {{minMargin: 0.02, avgMargin: 0.03, maxMargin: 0.04, minAmount: 10, avgAmount: 20, maxAmount: 30}}
  referencePrice: {{source: midpoint, maxSpread: 0.1}}
  orders: {{type: GTC, postOnly: true}}
"""


def quiet_config() -> Any:
    """The demo exchange with one market, a still fair value and no random takers."""
    raw = yaml.safe_load(resources.files("controller.sim").joinpath("demo.yaml").read_text())
    raw["markets"] = [m for m in raw["markets"] if m["conditionId"] == BTC]
    for account in raw["accounts"]:
        account["tokens"] = {t: v for t, v in account.get("tokens", {}).items() if t in (BTC_YES, BTC_NO)}
    for market in raw["markets"]:
        market["flow"]["volatility"] = 0.0
        market["flow"]["takers"]["rate"] = 0.0
    raw["accounts"].append(
        {"address": TAKER_ADDRESS, "signatureType": 0, "collateral": 10000, "tokens": {BTC_YES: 1000, BTC_NO: 1000}}
    )
    return raw


def write_manifest(directory: Path, text: str = MANIFEST, name: str = "btc.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def make_controller(sim: Any, manifest_dir: Path, **options: Any) -> Controller:
    venue = Venue(VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url))
    defaults = {
        "resync_interval": 3600.0,
        "reload_interval": 3600.0,
        "heartbeat": HeartbeatPolicy(interval=1.0),
        "lease_wait_seconds": 1.5,  # a little longer than the heartbeat interval above
        "freeze_confirm_seconds": 0.3,
        "state_dir": str(manifest_dir.parent / "state"),
    }
    defaults.update(options)
    return Controller(venue, LiveOptions(manifest_paths=[str(manifest_dir)], **defaults))


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    return sim_helpers.wait_for(predicate, timeout=timeout, interval=0.02, what=what)


def our_orders(sim: Any) -> list[dict[str, Any]]:
    return [o for o in sim.admin_state()["orders"] if o["owner"].lower() == DEMO_ADDRESS.lower()]


def exchange_state(sim: Any) -> ObservedState:
    """What the exchange itself holds, as the planner's input (independent of the controller)."""
    admin = sim.admin_state()
    markets = {}
    for condition_id, market in admin["markets"].items():
        books = {}
        for token, book in market["books"].items():
            books[token] = Book(
                bids=tuple(
                    sorted(
                        (Level(Decimal(lv["price"]), Decimal(lv["size"])) for lv in book["bids"]),
                        key=lambda lv: lv.price,
                        reverse=True,
                    )
                ),
                asks=tuple(
                    sorted(
                        (Level(Decimal(lv["price"]), Decimal(lv["size"])) for lv in book["asks"]),
                        key=lambda lv: lv.price,
                    )
                ),
            )
        markets[condition_id] = MarketState(
            tick_size=Decimal(market["tickSize"]), min_order_size=Decimal(5), books=books
        )
    balance = admin["balances"].get(DEMO_ADDRESS.lower()) or admin["balances"].get(DEMO_ADDRESS, {})
    orders = tuple(
        OpenOrder(
            o["id"],
            o.get("market", BTC),
            o["tokenId"],
            o["side"],
            Decimal(o["price"]),
            Decimal(o["size"]),
            Decimal(o["sizeMatched"]),
        )
        for o in admin["orders"]
        if o["owner"].lower() == DEMO_ADDRESS.lower()
    )
    return ObservedState(
        time=datetime.now(UTC),
        markets=markets,
        balances=Balances(
            collateral=Decimal(balance.get("collateral", "0")),
            tokens={t: Decimal(v) for t, v in balance.get("tokens", {}).items()},
        ),
        orders=orders,
    )


def converged(sim: Any, manifest: Path, left_alone: frozenset[str] = frozenset()) -> bool:
    """The exchange's own state needs no change according to the manifest.

    ``left_alone``: orders of the account the controller did not place. In an
    ``ownership: shared`` market every other order is taken as the controller's, and
    those must be left alone; in an exclusive one they are expected to be cancelled.
    """
    spec = load_manifests(manifest)[0]
    state = exchange_state(sim)
    expected_cancels = left_alone
    if spec.ownership == "shared":
        state = replace(state, placed_ids=frozenset(o.id for o in state.orders) - left_alone)
        expected_cancels = frozenset()
    result = plan_market(spec, state, datetime.now(UTC))
    return not result.place and {c.order_id for c in result.cancel} == expected_cancels and bool(result.keep)


def quote_sides(sim: Any, yes_token: str = BTC_YES) -> list[tuple[str, float, dict[str, Any]]]:
    """Our orders as (bid|ask, price in YES terms, order): SELL NO at c is a YES bid at 1 - c."""
    sides = []
    for order in our_orders(sim):
        price = float(order["price"])
        yes = order["tokenId"] == yes_token
        if (order["side"] == "BUY") == yes:
            sides.append(("bid", price if yes else round(1 - price, 6), order))
        else:
            sides.append(("ask", price if yes else round(1 - price, 6), order))
    return sides


def take_best_bid(
    sim: Any, yes_token: str = BTC_YES, *, position_ids: bool = False, also: float = 0.0
) -> dict[str, Any]:
    """A second trader takes our best bid whole (FAK at its price, on the token it rests on),
    plus ``also`` shares of whatever rests ahead of it at that price."""
    from py_clob_client_v2 import ClobClient, OrderArgsV2, OrderType, PartialCreateOrderOptions

    _, _, best_bid = max((q for q in quote_sides(sim, yes_token) if q[0] == "bid"), key=lambda q: q[1])
    taker = ClobClient(sim.url, chain_id=137, key=TAKER_KEY)
    taker.set_api_creds(taker.create_or_derive_api_key())
    opposite = "SELL" if best_bid["side"] == "BUY" else "BUY"
    asset = (
        {"position_id": best_bid["tokenId"], "token_id": None} if position_ids else {"token_id": best_bid["tokenId"]}
    )
    order = taker.create_order(
        OrderArgsV2(**asset, price=float(best_bid["price"]), size=float(best_bid["size"]) + also, side=opposite),
        PartialCreateOrderOptions(tick_size="0.01", neg_risk=False),
    )
    taker.post_order(order, OrderType.FAK)
    return best_bid
