"""Our signer against the stock py-clob-client-v2 1.2.1 builder, byte for byte.

Thousands of seeded random orders, over every tick size, exchange (CTF, neg-risk, V3 by
position id), signature type and side, are signed both ways with the same salt and
timestamp. Signature, order id and the exact POST /order and POST /orders bodies (captured
from the stock client's own ``post_order``/``post_orders`` with its transport stubbed out)
must be identical. Where the stock client floors a size through ``float``, our signer is
given the size the stock client actually signed, and the rest must still match.
"""

from __future__ import annotations

import random
import uuid
from decimal import Decimal
from typing import Any

import pytest
from py_clob_client_v2 import ClobClient
from py_clob_client_v2.clob_types import ApiCreds, CreateOrderOptions, OrderArgsV2, PostOrdersV2Args
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.order_builder import builder as stock_builder_module
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils import utils as stock_salt_module

from controller.venue.signer import EXCHANGE_CONTRACTS, Exchange, OrderSigner, SignedOrder, batch_body

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
WALLET = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TICKS = ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001")
EXCHANGES = (Exchange.CTF, Exchange.NEG_RISK, Exchange.V3)
ORDERS = 2880  # 20 of each (tick, exchange, signature type, side)


class _FrozenTime:
    """Stands in for the stock modules' ``time`` so their timestamp and salt are ours."""

    now_ns = 0

    @classmethod
    def time_ns(cls) -> int:
        return cls.now_ns


class _FixedRandom:
    value = 0.0

    @classmethod
    def random(cls) -> float:
        return cls.value


@pytest.fixture
def frozen_stock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stock_builder_module, "time", _FrozenTime)
    monkeypatch.setattr(stock_salt_module, "time", _FrozenTime)
    monkeypatch.setattr(stock_salt_module, "random", _FixedRandom)


def _stock_client(chain_id: int, signature_type: int, owner: str, sent: list[str]) -> ClobClient:
    funder = None if signature_type == 0 else WALLET
    client = ClobClient(
        "http://127.0.0.1:9",
        chain_id=chain_id,
        key=KEY,
        creds=ApiCreds(api_key=owner, api_secret="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", api_passphrase="p"),
        signature_type=signature_type,
        funder=funder,
    )

    def capture(endpoint: str, headers: Any = None, data: Any = None, params: Any = None) -> Any:
        sent.append(data)
        return [] if endpoint.endswith("/orders") else {}

    client._post = capture
    return client


def _stock_order_id(chain_id: int, exchange: Exchange, client: ClobClient, order: Any) -> str:
    config = get_contract_config(chain_id)
    address = {
        Exchange.CTF: config.exchange_v2,
        Exchange.NEG_RISK: config.neg_risk_exchange_v2,
        Exchange.V3: config.exchange_v3,
    }[exchange]
    hasher = ExchangeOrderBuilderV2(address, chain_id, client.signer, domain_version=exchange.domain_version)
    return hasher.build_order_hash(hasher.build_order_typed_data(order))


def _random_case(rng: random.Random, index: int) -> dict[str, Any]:
    combo = index % (len(TICKS) * len(EXCHANGES) * 4 * 2)
    tick = TICKS[combo % 6]
    exchange = EXCHANGES[(combo // 6) % 3]
    signature_type = (combo // 18) % 4
    side = ("BUY", "SELL")[(combo // 72) % 2]
    t = Decimal(tick)
    steps = int(1 / t)
    price = t * rng.randint(1, steps - 1)
    size = Decimal(rng.choice((rng.randint(1, 100_000), rng.randint(500, 2_000), rng.randint(1, 50) * 100))) / 100
    order_type = rng.choice(("GTC", "GTD", "FOK", "FAK"))
    return {
        "tick": tick,
        "exchange": exchange,
        "signature_type": signature_type,
        "side": side,
        "price": price,
        "size": size,
        "token": str(rng.getrandbits(rng.choice((64, 255, 256)))),
        "timestamp_ms": rng.randint(1_700_000_000_000, 1_900_000_000_000),
        "salt_fraction": rng.random(),
        "order_type": order_type,
        "post_only": order_type in ("GTC", "GTD") and rng.random() < 0.5,
        "defer_exec": rng.random() < 0.3,
        "expiration": rng.randint(1_800_000_000, 1_900_000_000) if order_type == "GTD" else 0,
        "metadata": "0x" + rng.randbytes(32).hex() if rng.random() < 0.2 else "0x" + "00" * 32,
        "builder": "0x" + rng.randbytes(32).hex() if rng.random() < 0.2 else "0x" + "00" * 32,
    }


def _stock_sign(client: ClobClient, case: dict[str, Any]) -> Any:
    _FrozenTime.now_ns = case["timestamp_ms"] * 1_000_000
    _FixedRandom.value = case["salt_fraction"]
    asset = {"position_id": case["token"]} if case["exchange"] is Exchange.V3 else {"token_id": case["token"]}
    args = OrderArgsV2(
        price=float(case["price"]),
        size=float(case["size"]),
        side=case["side"],
        expiration=case["expiration"],
        builder_code=case["builder"],
        metadata=case["metadata"],
        **asset,
    )
    options = CreateOrderOptions(tick_size=case["tick"], neg_risk=case["exchange"] is Exchange.NEG_RISK)
    return client.builder.build_order(args, options)


def _our_sign(signer: OrderSigner, case: dict[str, Any], size: Decimal) -> SignedOrder:
    return signer.build_order(
        case["token"],
        case["side"],
        case["price"],
        size,
        Decimal(case["tick"]),
        exchange=case["exchange"],
        expiration=case["expiration"],
        salt=int(case["salt_fraction"] * case["timestamp_ms"]),  # the stock salt formula
        timestamp_ms=case["timestamp_ms"],
        metadata=case["metadata"],
        builder=case["builder"],
    )


@pytest.mark.parametrize("chain_id", [137, 80002])
def test_signatures_ids_and_bodies_equal_the_stock_client(frozen_stock: None, chain_id: int) -> None:
    rng = random.Random(20261201 + chain_id)
    owner = str(uuid.UUID(int=rng.getrandbits(128)))
    sent: list[str] = []
    clients = {t: _stock_client(chain_id, t, owner, sent) for t in range(4)}
    signers = {t: OrderSigner(KEY, chain_id, t, None if t == 0 else WALLET) for t in range(4)}
    orders = ORDERS if chain_id == 137 else ORDERS // 4
    floored = 0
    batch: list[tuple[SignedOrder, Any, dict[str, Any]]] = []
    for index in range(orders):
        case = _random_case(rng, index)
        client, signer = clients[case["signature_type"]], signers[case["signature_type"]]
        stock = _stock_sign(client, case)
        signed_shares = int(stock.takerAmount if case["side"] == "BUY" else stock.makerAmount)
        size = Decimal(signed_shares) / 1_000_000
        if size != case["size"]:
            floored += 1
        ours = _our_sign(signer, case, size)
        context = f"case {index}: {case}"
        assert ours.signature == stock.signature, context
        assert ours.order_id == _stock_order_id(chain_id, case["exchange"], client, stock), context

        sent.clear()
        client.post_order(stock, case["order_type"], case["post_only"], case["defer_exec"])
        assert ours.body(owner, case["order_type"], case["post_only"], case["defer_exec"]) == sent[0], context

        batch.append((ours, stock, case))
        if len(batch) == 15 or index == orders - 1:
            post_only = all(c["post_only"] for _, _, c in batch)
            sent.clear()
            stock_args = [PostOrdersV2Args(order=s, orderType=c["order_type"]) for _, s, c in batch]
            clients[0].post_orders(stock_args, post_only)
            assert batch_body([(o, c["order_type"]) for o, _, c in batch], owner, post_only) == sent[0]
            batch.clear()
    # The random sizes do include the ones the stock client gets wrong.
    assert floored > orders // 50


def test_contract_addresses_equal_the_stock_config() -> None:
    for chain_id, contracts in EXCHANGE_CONTRACTS.items():
        config = get_contract_config(chain_id)
        assert contracts == {
            Exchange.CTF: config.exchange_v2,
            Exchange.NEG_RISK: config.neg_risk_exchange_v2,
            Exchange.V3: config.exchange_v3,
        }
