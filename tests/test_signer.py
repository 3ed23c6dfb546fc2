"""The order signer on its own: known hashes, signature recovery, wire shape, hostile input, key hygiene."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal as D
from typing import Any

import pytest
from coincurve import PublicKey

from controller.ops.redact import scrub
from controller.venue.amounts import AmountError, AmountProblem
from controller.venue.signer import (
    EXCHANGE_CONTRACTS,
    ORDER_TYPE_STRING,
    Exchange,
    OrderSigner,
    Side,
    SignatureType,
    SignedOrder,
    batch_body,
    domain_separator,
    keccak256,
    to_checksum_address,
)

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
WALLET = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


def _order(signer: OrderSigner, **overrides: Any) -> SignedOrder:
    args: dict[str, Any] = {"salt": 1133461856884, "timestamp_ms": 1795473626485}
    args.update(overrides)
    return signer.build_order(TOKEN, "BUY", D("0.52"), D("10"), D("0.01"), **args)


def _recover(digest_hex: str, signature: bytes) -> str:
    rsv = signature[:64] + bytes((signature[64] - 27,))
    public = PublicKey.from_signature_and_message(rsv, bytes.fromhex(digest_hex[2:]), hasher=None)
    return to_checksum_address("0x" + keccak256(public.format(compressed=False)[1:])[-20:].hex())


def test_type_hash_and_domain_separators_match_the_protocol_reference() -> None:
    assert keccak256(ORDER_TYPE_STRING.encode()).hex() == (
        "bb86318a2138f5fa8ae32fbe8e659f8fcf13cc6ae4014a707893055433818589"
    )
    expected = {
        (137, Exchange.CTF): "3264e159346253e26a64e00b69032db0e7d32f94628de3e6eecb50304d7af3d2",
        (137, Exchange.NEG_RISK): "9b858f53327b0bd13af8ec14cfb35234fb9eb7b0504d1a4e61f433840d30e81a",
        (80002, Exchange.CTF): "a440cbd865bc0c6243d7a8df9a8bf48a8827b0a4abbb61c30e96d305423af148",
        (80002, Exchange.NEG_RISK): "1468e39841f0a0e05d3762b235cb7acecabf8cd7b6d3a672965a5d415bf9378e",
    }
    for (chain, exchange), separator in expected.items():
        assert domain_separator(chain, EXCHANGE_CONTRACTS[chain][exchange], "2").hex() == separator


def test_address_of_the_key_and_eip55() -> None:
    assert OrderSigner(KEY).address == ADDRESS
    assert OrderSigner(KEY[2:]).address == ADDRESS
    # Test vectors of EIP-55 itself.
    for address in (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ):
        assert to_checksum_address(address.lower()) == address
        assert to_checksum_address(address) == address
    for bad in ("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x12", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00", 7):
        with pytest.raises(ValueError):
            to_checksum_address(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("exchange", list(Exchange))
@pytest.mark.parametrize(
    "signature_type", [SignatureType.EOA, SignatureType.POLY_PROXY, SignatureType.POLY_GNOSIS_SAFE]
)
def test_ecdsa_signature_recovers_to_the_key(exchange: Exchange, signature_type: SignatureType) -> None:
    funder = None if signature_type is SignatureType.EOA else WALLET
    signer = OrderSigner(KEY, 137, signature_type, funder)
    order = _order(signer, exchange=exchange)
    signature = bytes.fromhex(order.signature[2:])
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert _recover(order.order_id, signature) == ADDRESS
    assert order.fields.maker == (funder or ADDRESS) and order.fields.signer == ADDRESS
    assert int.from_bytes(signature[32:64], "big") <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


@pytest.mark.parametrize("exchange", list(Exchange))
def test_deposit_wallet_signature_is_an_erc7739_envelope(exchange: Exchange) -> None:
    signer = OrderSigner(KEY, 137, SignatureType.POLY_1271, WALLET.lower())
    order = _order(signer, exchange=exchange)
    assert order.fields.maker == order.fields.signer == WALLET
    blob = bytes.fromhex(order.signature[2:])
    type_length = int.from_bytes(blob[-2:], "big")
    assert type_length == len(ORDER_TYPE_STRING) and len(blob) == 65 + 32 + 32 + type_length + 2
    struct_hash, digest = signer.order_digest(order.fields)
    version = exchange.domain_version
    assert blob[65:97] == domain_separator(137, EXCHANGE_CONTRACTS[137][exchange], version)
    assert blob[97:129] == struct_hash
    assert blob[129:-2] == ORDER_TYPE_STRING.encode()
    assert order.order_id == "0x" + digest.hex()


def test_the_order_id_depends_on_every_signed_field_and_the_exchange() -> None:
    signer = OrderSigner(KEY)
    base = _order(signer)
    variants = [
        _order(signer, salt=1133461856885),
        _order(signer, timestamp_ms=1795473626486),
        _order(signer, exchange=Exchange.NEG_RISK),
        _order(signer, exchange=Exchange.V3),
        _order(signer, builder="0x" + "11" * 32),
        _order(signer, metadata="0x" + "22" * 32),
        signer.build_order(
            TOKEN, "SELL", D("0.52"), D("10"), D("0.01"), salt=1133461856884, timestamp_ms=1795473626485
        ),
        OrderSigner(KEY, 80002).build_order(
            TOKEN, "BUY", D("0.52"), D("10"), D("0.01"), salt=1133461856884, timestamp_ms=1795473626485
        ),
    ]
    ids = {base.order_id} | {v.order_id for v in variants}
    assert len(ids) == 1 + len(variants)
    # Expiration is not signed (it only travels in the body).
    assert _order(signer, expiration=1_900_000_000).order_id == base.order_id


def test_wire_body_shape() -> None:
    order = _order(OrderSigner(KEY))
    body = order.body("owner-1", "GTC", post_only=True)
    assert body == order.body("owner-1", "GTC", post_only=True)
    assert " " not in body
    parsed = json.loads(body)
    assert list(parsed) == ["order", "owner", "orderType", "deferExec", "postOnly"]
    assert list(parsed["order"]) == [
        "salt",
        "maker",
        "signer",
        "tokenId",
        "makerAmount",
        "takerAmount",
        "side",
        "expiration",
        "signatureType",
        "timestamp",
        "metadata",
        "builder",
        "signature",
    ]
    assert parsed["order"]["salt"] == 1133461856884 and parsed["order"]["signatureType"] == 0
    assert (parsed["order"]["makerAmount"], parsed["order"]["takerAmount"]) == ("5200000", "10000000")
    assert (parsed["order"]["side"], parsed["order"]["expiration"], parsed["order"]["tokenId"]) == ("BUY", "0", TOKEN)
    assert (parsed["owner"], parsed["orderType"], parsed["deferExec"], parsed["postOnly"]) == (
        "owner-1",
        "GTC",
        False,
        True,
    )
    batch = json.loads(batch_body([(order, "GTC"), (order, "FOK")], "owner-1"))
    assert [item["orderType"] for item in batch] == ["GTC", "FOK"]


def test_wire_refuses_what_the_exchange_refuses() -> None:
    order = _order(OrderSigner(KEY))
    for order_type in ("FOK", "FAK"):
        with pytest.raises(ValueError, match="post-only"):
            order.to_wire("owner", order_type, post_only=True)
    with pytest.raises(ValueError, match="expiration"):
        order.to_wire("owner", "GTD")
    with pytest.raises(ValueError, match="order type"):
        order.to_wire("owner", "IOC")
    assert _order(OrderSigner(KEY), expiration=1_900_000_000).to_wire("owner", "GTD")["order"]["expiration"] == (
        "1900000000"
    )


@pytest.mark.parametrize("token", ["0123", "-1", "1e5", "\u00b2", "", " 1", str(2**256), "12a", 123])
def test_refuses_malformed_token_ids(token: object) -> None:
    with pytest.raises(ValueError, match="token id"):
        OrderSigner(KEY).build_order(token, "BUY", D("0.5"), D("5"), D("0.01"))  # type: ignore[arg-type]


def test_refuses_bad_fields() -> None:
    signer = OrderSigner(KEY)
    with pytest.raises(AmountError) as caught:
        signer.build_order(TOKEN, "BUY", D("0.505"), D("5"), D("0.01"))
    assert caught.value.reason is AmountProblem.PRICE_OFF_GRID
    bad_values: list[dict[str, Any]] = [{"salt": -1}, {"salt": 2**256}, {"timestamp_ms": -5}, {"expiration": -1}]
    for bad in [*bad_values, {"expiration": 1.5}]:
        with pytest.raises(ValueError):
            _order(signer, **bad)
    for bad in [{"builder": "0x11"}, {"metadata": "0x" + "zz" * 32}]:
        with pytest.raises(ValueError, match="64 hex"):
            _order(signer, **bad)
    # Fields naming another wallet, key or signature type are not this signer's to sign.
    order = _order(signer)
    changes: list[dict[str, Any]] = [
        {"maker": WALLET},
        {"signer": WALLET},
        {"signature_type": SignatureType.POLY_PROXY},
    ]
    for change in changes:
        with pytest.raises(ValueError, match="not this signer's"):
            signer.sign(dataclasses.replace(order.fields, **change))
    with pytest.raises(ValueError, match="side"):
        signer.sign(dataclasses.replace(order.fields, side=0))  # type: ignore[arg-type]
    signer_without_v3 = OrderSigner(KEY, contracts={Exchange.CTF: EXCHANGE_CONTRACTS[137][Exchange.CTF]})
    with pytest.raises(ValueError, match="no contract"):
        _order(signer_without_v3, exchange=Exchange.V3)


def test_configuration_errors() -> None:
    with pytest.raises(ValueError, match="funder"):
        OrderSigner(KEY, 137, SignatureType.POLY_PROXY)
    with pytest.raises(ValueError, match="EOA"):
        OrderSigner(KEY, 137, SignatureType.EOA, WALLET)
    assert OrderSigner(KEY, 137, SignatureType.EOA, ADDRESS.lower()).maker == ADDRESS
    with pytest.raises(ValueError, match="signature type"):
        OrderSigner(KEY, 137, 4)
    with pytest.raises(ValueError, match="chain 1"):
        OrderSigner(KEY, 1)
    assert Exchange.for_market(neg_risk=True) is Exchange.NEG_RISK
    assert Exchange.for_market(neg_risk=False) is Exchange.CTF
    assert Exchange.for_market(neg_risk=True, version=3) is Exchange.V3
    with pytest.raises(ValueError, match="version 1"):
        Exchange.for_market(neg_risk=False, version=1)


@pytest.mark.parametrize("key", [KEY[:-2], KEY + "00", "0x" + "g" * 64, "0x" + "00" * 32, 12345])
def test_bad_keys_are_refused_without_echoing_them(key: object) -> None:
    with pytest.raises(ValueError) as caught:
        OrderSigner(key)  # type: ignore[arg-type]
    if isinstance(key, str):
        assert key[2:10] not in str(caught.value)


def test_the_key_never_prints() -> None:
    signer = OrderSigner(KEY, 137, SignatureType.POLY_1271, WALLET)
    text = repr(signer) + str(signer) + repr(_order(signer))
    assert KEY[2:] not in text and KEY[2:].upper() not in text
    assert ADDRESS in repr(signer)
    assert scrub(f"oops {KEY}") == "oops [REDACTED]"  # registered for scrubbing as soon as it was read


def test_salt_and_timestamp_come_from_the_stock_range_and_the_injected_clock() -> None:
    signer = OrderSigner(KEY, clock_ms=lambda: 1_795_473_626_485)
    orders = [signer.build_order(TOKEN, Side.SELL, D("0.3"), D("5"), "0.1") for _ in range(200)]
    assert {o.fields.timestamp_ms for o in orders} == {1_795_473_626_485}
    assert all(0 <= o.fields.salt < 1_795_473_626_485 for o in orders)
    assert len({o.order_id for o in orders}) == 200
    assert signer.new_salt(0) == 0


def test_pinned_vector() -> None:
    # The reference order of docs/protocol.md (public test key); equal to what py-clob-client-v2 1.2.1 signs.
    order = _order(OrderSigner(KEY))
    assert order.order_id == "0xea3ac4f74b1e57e30debc9e73af0159c2a5a32f7c3b4986f199102c98c94c2ba"
    assert order.signature == (
        "0x6e7555f26c320d25d53b47995fae6451b16b657259f87877ff3b6e1b0342e48b"
        "2ab75def7fbcaf1ad276d659d78cf8bdf2f45e4ce81c0cb19800dc785fde55031c"
    )
