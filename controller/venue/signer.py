"""Exact, fast order signing: Polymarket CLOB V2 orders built from Decimal and signed with EIP-712.

Why it exists: py-clob-client-v2 1.2.1 computes order amounts through ``float`` (5.02
shares are signed as 5.01) and spends about half a millisecond of CPU per order in
generic EIP-712 code. This module builds the same orders from exact amounts (:mod:`controller.venue.amounts`)
and signs them with precomputed domain separators, one keccak for the struct, one for the
digest and libsecp256k1 (coincurve) for the signature. Given the same fields, salt and
timestamp its signature, order id and JSON body are byte-for-byte those of the stock
client (tests/test_signer_equality.py holds it to that).

Covers the three exchanges (CTF, neg-risk CTF, and the V3 exchange for position-id orders)
and the four signature types (EOA, proxy, Gnosis Safe, deposit wallet / ERC-1271).

What it may not do: network I/O, read clocks other than the injected one, round an amount,
or let the private key reach a repr, log or exception message.

Typical use::

    signer = OrderSigner(key, chain_id=137, signature_type=SignatureType.POLY_1271, funder=wallet)
    order = signer.build_order(token_id, "BUY", Decimal("0.47"), Decimal("15"), Decimal("0.01"))
    order.order_id                     # the exchange's id for it (EIP-712 digest)
    body = order.body(owner=api_key, order_type="GTC", post_only=True)   # POST /order
    batch_body([(order, "GTC")], owner=api_key, post_only=True)          # POST /orders
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, IntEnum
from typing import Any

from coincurve import PrivateKey

from controller.ops.redact import Secret, register_secret
from controller.venue.abi import (
    BYTES32_ZERO,
    domain_separator,
    keccak256,
    to_checksum_address,
)
from controller.venue.abi import (
    ZERO32 as _ZERO32,
)
from controller.venue.abi import (
    address_word as _address_word,
)
from controller.venue.abi import (
    bytes32 as _bytes32,
)
from controller.venue.abi import (
    token_id as _token_id,
)
from controller.venue.abi import (
    uint as _uint,
)
from controller.venue.amounts import Side, limit_amounts

ORDER_TYPES = frozenset({"GTC", "GTD", "FOK", "FAK"})
ORDER_TYPE_STRING = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,"
    "uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,"
    "uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
_ORDER_TYPEHASH = keccak256(ORDER_TYPE_STRING.encode())
# Deposit wallets (type 3) check an ERC-7739 nested typed-data signature: the order is the
# "contents" of a TypedDataSign struct in the wallet's own domain ("DepositWallet", "1").
_TYPED_DATA_SIGN_TYPEHASH = keccak256(
    (
        "TypedDataSign(Order contents,string name,string version,uint256 chainId,"
        "address verifyingContract,bytes32 salt)" + ORDER_TYPE_STRING
    ).encode()
)
_WALLET_NAME_HASH = keccak256(b"DepositWallet")
_WALLET_VERSION_HASH = keccak256(b"1")
_1271_TRAILER = ORDER_TYPE_STRING.encode() + len(ORDER_TYPE_STRING).to_bytes(2, "big")
_SIDE_TEXT = ("BUY", "SELL")


class SignatureType(IntEnum):
    """Who signs for whom (``uint8 signatureType``)."""

    EOA = 0  # the key's own address trades
    POLY_PROXY = 1  # a Polymarket proxy wallet, signed by its owner key
    POLY_GNOSIS_SAFE = 2  # a Gnosis Safe, signed by its owner key
    POLY_1271 = 3  # a deposit wallet (ERC-1271): the wallet is the signer


class Exchange(Enum):
    """The verifying contract of an order."""

    CTF = "ctf"  # CTF exchange V2: ordinary binary markets
    NEG_RISK = "neg_risk"  # neg-risk CTF exchange V2: multi-outcome events
    V3 = "v3"  # exchange V3: Protocol V2 markets, orders on position ids

    @property
    def domain_version(self) -> str:
        return "3" if self is Exchange.V3 else "2"

    @classmethod
    def for_market(cls, neg_risk: bool, version: int = 2) -> Exchange:
        """The exchange for a market's ``neg_risk`` flag and the exchange's order version (2 or 3)."""
        if version == 3:
            return cls.V3
        if version != 2:
            raise ValueError(f"order version {version} is not supported (V1 orders stopped working in April 2026)")
        return cls.NEG_RISK if neg_risk else cls.CTF


# py-clob-client-v2 1.2.1's config.py (tests hold the two equal).
EXCHANGE_CONTRACTS: dict[int, dict[Exchange, str]] = {
    137: {
        Exchange.CTF: "0xE111180000d2663C0091e4f400237545B87B996B",
        Exchange.NEG_RISK: "0xe2222d279d744050d28e00520010520000310F59",
        Exchange.V3: "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa",
    },
    80002: {
        Exchange.CTF: "0xE111180000d2663C0091e4f400237545B87B996B",
        Exchange.NEG_RISK: "0xe2222d279d744050d28e00520010520000310F59",
        Exchange.V3: "0x9fE6e61422AdB6F610d8597F9684b16912D50C3D",
    },
}


@dataclass(frozen=True, slots=True)
class OrderFields:
    """Everything the exchange hashes, plus the (unsigned) expiration it reads from the body."""

    exchange: Exchange
    salt: int
    maker: str  # EIP-55
    signer: str  # EIP-55
    token_id: int  # token id, or position id on the V3 exchange
    maker_amount: int  # base units (10**-6)
    taker_amount: int
    side: Side
    signature_type: SignatureType
    timestamp_ms: int
    expiration: int = 0  # unix seconds, 0 = none (GTD orders only)
    metadata: bytes = _ZERO32
    builder: bytes = _ZERO32  # builder-program code


@dataclass(frozen=True, slots=True)
class SignedOrder:
    fields: OrderFields
    order_id: str  # 0x + 64 hex: the EIP-712 digest, which the exchange uses as the order's id
    signature: str  # 0x + hex

    def order_json(self) -> dict[str, Any]:
        """The ``order`` object of the POST body, keys in the stock client's order."""
        f = self.fields
        return {
            "salt": f.salt,
            "maker": f.maker,
            "signer": f.signer,
            "tokenId": str(f.token_id),
            "makerAmount": str(f.maker_amount),
            "takerAmount": str(f.taker_amount),
            "side": _SIDE_TEXT[f.side],
            "expiration": str(f.expiration),
            "signatureType": int(f.signature_type),
            "timestamp": str(f.timestamp_ms),
            "metadata": "0x" + f.metadata.hex(),
            "builder": "0x" + f.builder.hex(),
            "signature": self.signature,
        }

    def to_wire(
        self, owner: str, order_type: str = "GTC", post_only: bool = False, defer_exec: bool = False
    ) -> dict[str, Any]:
        """One order as ``POST /order`` takes it (and as each item of ``POST /orders``)."""
        if order_type not in ORDER_TYPES:
            raise ValueError(f"order type must be one of {sorted(ORDER_TYPES)}, not {order_type!r}")
        if post_only and order_type in ("FOK", "FAK"):
            raise ValueError("post-only is only allowed for GTC and GTD orders")
        if order_type == "GTD" and not self.fields.expiration:
            raise ValueError("a GTD order needs an expiration")
        if not isinstance(owner, str):
            raise ValueError("owner must be the API key (a string)")
        return {
            "order": self.order_json(),
            "owner": owner,
            "orderType": order_type,
            "deferExec": bool(defer_exec),
            "postOnly": bool(post_only),
        }

    def body(self, owner: str, order_type: str = "GTC", post_only: bool = False, defer_exec: bool = False) -> str:
        """The exact text of a ``POST /order`` body (what the L2 HMAC covers)."""
        return wire_json(self.to_wire(owner, order_type, post_only, defer_exec))


def wire_json(payload: Any) -> str:
    """JSON exactly as py-clob-client-v2 serializes request bodies (compact, UTF-8)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def batch_body(
    orders: Sequence[tuple[SignedOrder, str]], owner: str, post_only: bool = False, defer_exec: bool = False
) -> str:
    """The exact text of a ``POST /orders`` body: ``(order, order type)`` pairs, one post-only flag."""
    return wire_json([order.to_wire(owner, order_type, post_only, defer_exec) for order, order_type in orders])


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class OrderSigner:
    """Builds and signs orders for one key, chain and wallet; holds the key in libsecp256k1 only.

    ``funder`` is the address that holds the funds and makes the order: the key's own
    address for EOA (default), the proxy / Safe / deposit wallet otherwise. For deposit
    wallets the wallet is also the order's signer.
    """

    def __init__(
        self,
        private_key: str | Secret,
        chain_id: int = 137,
        signature_type: SignatureType | int = SignatureType.EOA,
        funder: str | None = None,
        *,
        contracts: Mapping[Exchange, str] | None = None,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self._key = _private_key(private_key)
        public = self._key.public_key.format(compressed=False)[1:]
        self.address = to_checksum_address("0x" + keccak256(public)[-20:].hex())
        try:
            self.signature_type = SignatureType(signature_type)
        except ValueError:
            raise ValueError(f"signature type must be 0, 1, 2 or 3, not {signature_type!r}") from None
        if self.signature_type is SignatureType.EOA:
            if funder is not None and to_checksum_address(funder) != self.address:
                raise ValueError("an EOA order is made by the key's own address: leave funder unset")
            self.maker = self.address
        elif funder is None:
            raise ValueError(f"signature type {self.signature_type.name} needs the wallet address as funder")
        else:
            self.maker = to_checksum_address(funder)
        self.order_signer = self.maker if self.signature_type is SignatureType.POLY_1271 else self.address
        self.chain_id = _uint(chain_id, "chain id")
        if contracts is None:
            if chain_id not in EXCHANGE_CONTRACTS:
                raise ValueError(f"no exchange contracts known for chain {chain_id}; pass contracts=")
            contracts = EXCHANGE_CONTRACTS[chain_id]
        self.contracts = {exchange: to_checksum_address(contracts[exchange]) for exchange in contracts}
        self._domains = {
            exchange: domain_separator(chain_id, address, exchange.domain_version)
            for exchange, address in self.contracts.items()
        }
        self._maker_word = _address_word(self.maker)
        self._signer_word = _address_word(self.order_signer)
        # The wallet's domain fields of the ERC-7739 TypedDataSign struct, after the contents hash.
        self._wallet_domain = (
            _WALLET_NAME_HASH + _WALLET_VERSION_HASH + chain_id.to_bytes(32, "big") + self._signer_word
        )
        self._clock_ms = clock_ms
        self._random = random.SystemRandom()

    def __repr__(self) -> str:
        return f"OrderSigner(address={self.address}, maker={self.maker}, type={self.signature_type.name})"

    def new_salt(self, now_ms: int) -> int:
        """A random salt in [0, now_ms), the stock client's range (it stays below 2**53 for JSON)."""
        return self._random.randrange(max(now_ms, 1))

    def build_order(
        self,
        token_id: str,
        side: Side | str,
        price: Decimal,
        size: Decimal | int,
        tick_size: Decimal | str,
        *,
        exchange: Exchange = Exchange.CTF,
        expiration: int = 0,
        salt: int | None = None,
        timestamp_ms: int | None = None,
        metadata: str = BYTES32_ZERO,
        builder: str = BYTES32_ZERO,
    ) -> SignedOrder:
        """A signed limit order of exactly ``size`` shares at exactly ``price``.

        Raises :class:`~controller.venue.amounts.AmountError` (a ValueError) for a price off
        the tick grid or a size finer than the exchange's lot, ValueError for other bad fields.
        """
        side = Side.parse(side)
        amounts = limit_amounts(side, price, size, tick_size)
        if timestamp_ms is None:
            timestamp_ms = self._clock_ms()
        fields = OrderFields(
            exchange=exchange,
            salt=self.new_salt(timestamp_ms) if salt is None else salt,
            maker=self.maker,
            signer=self.order_signer,
            token_id=_token_id(token_id),
            maker_amount=amounts.maker,
            taker_amount=amounts.taker,
            side=side,
            signature_type=self.signature_type,
            timestamp_ms=timestamp_ms,
            expiration=expiration,
            metadata=_bytes32(metadata, "metadata"),
            builder=_bytes32(builder, "builder code"),
        )
        return self.sign(fields)

    def order_digest(self, fields: OrderFields) -> tuple[bytes, bytes]:
        """``(hashStruct(order), EIP-712 digest)``; the digest is the order id."""
        if (
            fields.maker != self.maker
            or fields.signer != self.order_signer
            or fields.signature_type is not self.signature_type
        ):
            raise ValueError("the order's maker, signer or signature type is not this signer's")
        domain = self._domains.get(fields.exchange)
        if domain is None:
            raise ValueError(f"no contract configured for exchange {fields.exchange!r}")
        try:
            struct = (
                _ORDER_TYPEHASH
                + fields.salt.to_bytes(32, "big")
                + self._maker_word
                + self._signer_word
                + fields.token_id.to_bytes(32, "big")
                + fields.maker_amount.to_bytes(32, "big")
                + fields.taker_amount.to_bytes(32, "big")
                + fields.side.to_bytes(32, "big")
                + fields.signature_type.to_bytes(32, "big")
                + fields.timestamp_ms.to_bytes(32, "big")
                + fields.metadata
                + fields.builder
            )
        except (OverflowError, AttributeError, TypeError):
            raise ValueError("an order field has the wrong type or is outside uint256") from None
        if len(struct) != 12 * 32:
            raise ValueError("metadata and builder must be 32 bytes each")
        struct_hash = keccak256(struct)
        return struct_hash, keccak256(b"\x19\x01" + domain + struct_hash)

    def sign(self, fields: OrderFields) -> SignedOrder:
        """Sign ``fields``, which must name this signer's wallet, key and signature type."""
        _uint(fields.expiration, "expiration")
        if not isinstance(fields.side, Side):
            raise ValueError("side must be a Side")
        struct_hash, digest = self.order_digest(fields)
        if self.signature_type is SignatureType.POLY_1271:
            signature = self._sign_1271(fields.exchange, struct_hash)
        else:
            signature = self._ecdsa(digest)
        return SignedOrder(fields, "0x" + digest.hex(), "0x" + signature.hex())

    def _ecdsa(self, digest: bytes) -> bytes:
        # libsecp256k1 signs deterministically (RFC 6979) with a low s, as eth-account does;
        # Ethereum wants r || s || v with v = 27 + recovery id.
        raw = self._key.sign_recoverable(digest, hasher=None)
        return raw[:64] + bytes((raw[64] + 27,))

    def _sign_1271(self, exchange: Exchange, contents_hash: bytes) -> bytes:
        # ERC-7739 envelope: sig(65) || app domain separator || contents hash || type string || uint16 length.
        app_domain = self._domains[exchange]
        wrapped = keccak256(_TYPED_DATA_SIGN_TYPEHASH + contents_hash + self._wallet_domain + _ZERO32)
        inner = self._ecdsa(keccak256(b"\x19\x01" + app_domain + wrapped))
        return inner + app_domain + contents_hash + _1271_TRAILER


def _private_key(value: str | Secret) -> PrivateKey:
    text = value.reveal() if isinstance(value, Secret) else value
    if not isinstance(text, str):
        raise ValueError("private key must be a hex string")
    register_secret(text)
    hex_text = text[2:] if text[:2] in ("0x", "0X") else text
    try:
        raw = bytes.fromhex(hex_text)
        if len(raw) != 32:
            raise ValueError
        return PrivateKey(raw)
    except Exception:
        # Never echo the value: it is (or nearly is) a secret.
        raise ValueError("private key must be 32 bytes of hex (64 hex digits, optionally 0x-prefixed)") from None
