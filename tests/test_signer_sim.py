"""Orders signed by our signer, posted to the emulator over a real socket, for every signature type.

The emulator checks signatures the way the exchange does (ECDSA recovery, the ERC-7739
envelope for deposit wallets, the neg-risk domain) and computes the order id itself; it must
accept our bodies as sent and answer with the id we computed. Sizes are ones the stock client
would floor (5.02), and must rest at exactly that size.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sim_helpers import (
    ADDR0,
    BTC_YES,
    DEPOSIT3,
    KEY0,
    KEY1,
    KEY2,
    KEY3,
    NEGR_YES,
    PROXY1,
    SAFE2,
    V3_YES,
    client,
    quiet_config,
)

from controller.venue.signer import Exchange, OrderSigner, SignatureType, batch_body

ACCOUNTS = [
    (KEY0, SignatureType.EOA, None),
    (KEY1, SignatureType.POLY_PROXY, PROXY1),
    (KEY2, SignatureType.POLY_GNOSIS_SAFE, SAFE2),
    (KEY3, SignatureType.POLY_1271, DEPOSIT3),
]


@pytest.fixture
def sim() -> Iterator[Any]:
    from controller.sim import start_sim

    handle = start_sim(quiet_config(), clock="manual", seed=3, flow=False)
    yield handle
    handle.stop()


def _post(sim: Any, stock: Any, path: str, body: str) -> httpx.Response:
    """POST our body text as is, with the stock client's L2 headers for exactly that text."""
    headers = stock._l2_headers("POST", path, body=None, serialized_body=body)
    return httpx.post(sim.url + path, content=body, headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize(("key", "signature_type", "funder"), ACCOUNTS)
def test_the_emulator_accepts_our_orders_with_our_ids(
    sim: Any, key: str, signature_type: int, funder: str | None
) -> None:
    signer = OrderSigner(key, 137, signature_type, funder)
    order = signer.build_order(BTC_YES, "BUY", Decimal("0.40"), Decimal("5.02"), Decimal("0.01"))
    stock = client(sim.url, key, signature_type=signature_type, funder=funder)
    owner = stock.creds.api_key
    response = _post(sim, stock, "/order", order.body(owner, "GTC", post_only=True))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["success"] is True and answer["orderID"] == order.order_id, answer
    resting = stock.get_order(order.order_id)
    assert Decimal(resting["original_size"]) == Decimal("5.02")
    assert Decimal(resting["price"]) == Decimal("0.40")


def test_a_batch_on_all_three_exchanges(sim: Any) -> None:
    signer = OrderSigner(KEY0, 137)
    orders = [
        signer.build_order(BTC_YES, "BUY", Decimal("0.31"), Decimal("8.2"), Decimal("0.01")),
        signer.build_order(NEGR_YES, "SELL", Decimal("0.93"), Decimal("5.02"), "0.01", exchange=Exchange.NEG_RISK),
        signer.build_order(V3_YES, "SELL", Decimal("0.61"), Decimal("8.2"), "0.01", exchange=Exchange.V3),
    ]
    stock = client(sim.url, KEY0)
    body = batch_body([(o, "GTC") for o in orders], stock.creds.api_key, post_only=True)
    response = _post(sim, stock, "/orders", body)
    assert response.status_code == 200, response.text
    answers = response.json()
    assert [a["orderID"] for a in answers] == [o.order_id for o in orders], answers
    sizes = {o["id"]: Decimal(o["original_size"]) for o in stock.get_open_orders()}
    expected = [Decimal("8.2"), Decimal("5.02"), Decimal("8.2")]
    assert sizes == {o.order_id: size for o, size in zip(orders, expected, strict=True)}
    assert all(o["maker_address"].lower() == ADDR0.lower() for o in stock.get_open_orders())


@pytest.mark.parametrize(
    ("token", "exchange"), [(NEGR_YES, Exchange.CTF), (V3_YES, Exchange.CTF), (BTC_YES, Exchange.V3)]
)
def test_the_emulator_refuses_an_order_signed_for_the_wrong_exchange(sim: Any, token: str, exchange: Exchange) -> None:
    order = OrderSigner(KEY0, 137).build_order(token, "SELL", Decimal("0.93"), Decimal("5"), "0.01", exchange=exchange)
    stock = client(sim.url, KEY0)
    response = _post(sim, stock, "/order", order.body(stock.creds.api_key, "GTC", post_only=True))
    assert response.status_code == 400, response.text
    assert "signature" in response.json()["error"]
