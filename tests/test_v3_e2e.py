"""A Protocol V2 market (position ids, Exchange V3 signatures) is quoted from a plain manifest."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from live_helpers import TAKER_ADDRESS, converged, make_controller, our_orders, take_best_bid, wait_for, write_manifest

V3 = "0x0768887786947aff4107d6538ac92865b610c8c0308f050c204c773de9c38c2c"
V3_YES = "71239814156578440460656472808271316294552516582925803080249388926167291931023"
V3_NO = "21801149836917246070429330154441126091749985003886301480362078829605926767664"
MANIFEST = f"""\
apiVersion: bandctl/v1
kind: MarketMaker
metadata:
  name: fed
spec:
  market:
    conditionId: "{V3}"
    tokens: {{yes: "{V3_YES}", no: "{V3_NO}"}}
  bands:
    - {{minMargin: 0.01, avgMargin: 0.02, maxMargin: 0.03, minAmount: 10, avgAmount: 20, maxAmount: 30}}
  referencePrice: {{source: midpoint, maxSpread: 0.1}}
  orders: {{type: GTC, postOnly: true}}
"""


@pytest.fixture
def v3_sim() -> Any:
    from controller.sim import start_sim

    raw = yaml.safe_load(resources.files("controller.sim").joinpath("demo.yaml").read_text())
    raw["markets"] = [m for m in raw["markets"] if m["conditionId"] == V3]
    for market in raw["markets"]:
        market["flow"]["volatility"] = 0.0
        market["flow"]["takers"]["rate"] = 0.0
    for account in raw["accounts"]:
        account["tokens"] = {V3_YES: 500, V3_NO: 500}
    raw["accounts"].append({"address": TAKER_ADDRESS, "signatureType": 0, "collateral": 10000, "tokens": {V3_YES: 500}})
    handle = start_sim(raw, clock="manual", seed=7, flow=True)
    handle.step_flow(1)
    yield handle
    handle.stop()


def test_a_v3_market_is_quoted_and_its_orders_match(v3_sim, tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    write_manifest(manifests, MANIFEST, name="fed.yaml")
    controller = make_controller(v3_sim, manifests)
    controller.start()
    try:
        wait_for(lambda: converged(v3_sim, manifests / "fed.yaml"), "quotes on the V3 market")
        # The taker signs for Exchange V3 too, and sweeps the house's level at our price first.
        taken = take_best_bid(v3_sim, V3_YES, position_ids=True, also=200)
        wait_for(lambda: taken["id"] not in {o["id"] for o in our_orders(v3_sim)}, "our V3 bid to match")
        trades = v3_sim.admin_state(market=V3)["trades"]
        assert any(taken["id"] in str(t) for t in trades), "the match is a trade on the V3 market"
        wait_for(lambda: converged(v3_sim, manifests / "fed.yaml"), "the band refilled")
    finally:
        controller.stop()
