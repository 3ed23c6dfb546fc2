"""Signature checks the way the exchange does them: L1 (EIP-712 ClobAuth), L2 (HMAC), signed orders.

Orders are hashed under one of three EIP-712 domains (``Exchange``): the CTF Exchange V2
(domain version "2"), its neg-risk twin, and Exchange V3 (domain version "3") for
Protocol V2 markets whose outcomes are position ids. The order struct is the same.

Pure functions over bytes and strings; no server state. ECDSA recovery uses coincurve
(libsecp256k1), keccak comes from eth-hash. Everything here mirrors what
py-clob-client-v2 1.2.1 produces (headers/headers.py, signing/*, order_utils/*).
"""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import hmac
import uuid
from dataclasses import dataclass

from coincurve import PublicKey
from eth_hash.auto import keccak

from .config import EXCHANGE_V2, EXCHANGE_V3, NEG_RISK_EXCHANGE_V2

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
_CLOB_AUTH_TYPEHASH = keccak(b"ClobAuth(address address,string timestamp,uint256 nonce,string message)")
_DOMAIN_NO_CONTRACT_TYPEHASH = keccak(b"EIP712Domain(string name,string version,uint256 chainId)")
_DOMAIN_TYPEHASH = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")

ORDER_TYPE_STRING = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,"
    "uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,"
    "uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
ORDER_TYPEHASH = keccak(ORDER_TYPE_STRING.encode())
# ERC-7739 nested typed-data envelope used by deposit wallets (signature type 3).
_TYPED_DATA_SIGN_TYPEHASH = keccak(
    (
        "TypedDataSign(Order contents,string name,string version,uint256 chainId,"
        "address verifyingContract,bytes32 salt)" + ORDER_TYPE_STRING
    ).encode()
)
_DEPOSIT_WALLET_NAME = keccak(b"DepositWallet")
_DEPOSIT_WALLET_VERSION = keccak(b"1")

SIG_EOA, SIG_POLY_PROXY, SIG_POLY_GNOSIS_SAFE, SIG_POLY_1271 = 0, 1, 2, 3
UINT256_MAX = (1 << 256) - 1


class SignatureError(ValueError):
    pass


def _u256(v: int) -> bytes:
    return v.to_bytes(32, "big")


def _addr_word(addr_hex: str) -> bytes:
    return bytes(12) + bytes.fromhex(addr_hex[2:])


class Exchange(enum.Enum):
    """Which exchange contract (and so which EIP-712 domain) an order is signed for."""

    V2 = "v2"
    V2_NEG_RISK = "v2-neg-risk"
    V3 = "v3"


def exchange_address(exchange: Exchange, chain_id: int) -> str:
    if exchange is Exchange.V3:
        return EXCHANGE_V3[chain_id]
    return NEG_RISK_EXCHANGE_V2 if exchange is Exchange.V2_NEG_RISK else EXCHANGE_V2


def domain_separator(chain_id: int, contract: str, version: str = "2") -> bytes:
    return keccak(
        _DOMAIN_TYPEHASH
        + keccak(b"Polymarket CTF Exchange")
        + keccak(version.encode())
        + _u256(chain_id)
        + _addr_word(contract)
    )


def clob_auth_domain_separator(chain_id: int) -> bytes:
    return keccak(_DOMAIN_NO_CONTRACT_TYPEHASH + keccak(b"ClobAuthDomain") + keccak(b"1") + _u256(chain_id))


def pubkey_to_address(pub: PublicKey) -> str:
    return "0x" + keccak(pub.format(compressed=False)[1:])[-20:].hex()


def recover_address(digest: bytes, signature: bytes) -> str:
    """Recover the lower-case address that produced a 65-byte r||s||v signature over ``digest``."""
    if len(signature) != 65:
        raise SignatureError("signature must be 65 bytes")
    v = signature[64]
    if v >= 27:
        v -= 27
    if v not in (0, 1):
        raise SignatureError("bad recovery id")
    s = int.from_bytes(signature[32:64], "big")
    if s == 0 or s > SECP256K1_N // 2:  # reject malleable high-s signatures, as OpenZeppelin's ECDSA does
        raise SignatureError("non-canonical signature")
    try:
        pub = PublicKey.from_signature_and_message(signature[:64] + bytes([v]), digest, hasher=None)
    except Exception as exc:  # coincurve raises plain Exception on an unrecoverable signature
        raise SignatureError("unrecoverable signature") from exc
    return pubkey_to_address(pub)


def parse_hex(value: object, nbytes: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise SignatureError("expected 0x-prefixed hex")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise SignatureError("invalid hex") from None
    if nbytes is not None and len(raw) != nbytes:
        raise SignatureError(f"expected {nbytes} bytes")
    return raw


# ---------------------------------------------------------------- L1


def clob_auth_digest(chain_id: int, address: str, timestamp: str, nonce: int) -> bytes:
    struct_hash = keccak(
        _CLOB_AUTH_TYPEHASH
        + _addr_word(address)
        + keccak(timestamp.encode())
        + _u256(nonce)
        + keccak(CLOB_AUTH_MESSAGE.encode())
    )
    return keccak(b"\x19\x01" + clob_auth_domain_separator(chain_id) + struct_hash)


def verify_l1(chain_id: int, address: str, signature: str, timestamp: str, nonce: str) -> str:
    """Return the lower-case address if the ClobAuth signature recovers to ``address``."""
    if not is_address(address):
        raise SignatureError("bad address")
    try:
        n = int(nonce)
    except (TypeError, ValueError):
        raise SignatureError("bad nonce") from None
    if not 0 <= n <= UINT256_MAX:
        raise SignatureError("bad nonce")
    digest = clob_auth_digest(chain_id, address, timestamp, n)
    recovered = recover_address(digest, parse_hex(signature, 65))
    if recovered != address.lower():
        raise SignatureError("signer mismatch")
    return recovered


def is_address(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 42 or not value.startswith(("0x", "0X")):
        return False
    try:
        int(value[2:], 16)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- API keys and L2


@dataclass(frozen=True)
class ApiKey:
    key: str
    secret: str
    passphrase: str
    address: str  # lower-case EOA
    nonce: int


_KEY_DERIVATION_SALT = b"bandctl-sim api key v1"


def derive_api_key(address: str, nonce: int) -> ApiKey:
    """Deterministic per (address, nonce) — so a restarted emulator honours cached creds."""
    seed = hashlib.sha256(_KEY_DERIVATION_SALT + address.lower().encode() + b":" + str(nonce).encode()).digest()
    more = hashlib.sha256(seed + b"secret").digest()
    phrase = hashlib.sha256(seed + b"passphrase").hexdigest()
    return ApiKey(
        key=str(uuid.UUID(bytes=seed[:16], version=4)),
        secret=base64.urlsafe_b64encode(more).decode(),
        passphrase=phrase,
        address=address.lower(),
        nonce=nonce,
    )


@functools.lru_cache(maxsize=1024)
def _keyed(secret: str) -> hmac.HMAC:
    """The HMAC state after the key (decoded once per secret); each request copies it."""
    return hmac.new(base64.urlsafe_b64decode(secret), digestmod=hashlib.sha256)


def hmac_signature(secret: str, timestamp: str, method: str, path: str, body: str | None) -> str:
    message = f"{timestamp}{method}{path}"
    if body:
        message += body.replace("'", '"')  # the client does this; a no-op for JSON
    mac = _keyed(secret).copy()
    mac.update(message.encode("utf-8"))
    return base64.urlsafe_b64encode(mac.digest()).decode()


def verify_hmac(key: ApiKey, signature: str, timestamp: str, method: str, path: str, body: str | None) -> bool:
    expected = hmac_signature(key.secret, timestamp, method, path, body)
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


# ---------------------------------------------------------------- V2 orders


@dataclass(frozen=True)
class OrderFields:
    salt: int
    maker: str  # lower-case
    signer: str  # lower-case
    token_id: int
    maker_amount: int
    taker_amount: int
    side: int  # 0 BUY, 1 SELL
    signature_type: int
    timestamp: int
    metadata: bytes
    builder: bytes
    signature: bytes


def order_struct_hash(o: OrderFields) -> bytes:
    return keccak(
        ORDER_TYPEHASH
        + _u256(o.salt)
        + _addr_word(o.maker)
        + _addr_word(o.signer)
        + _u256(o.token_id)
        + _u256(o.maker_amount)
        + _u256(o.taker_amount)
        + _u256(o.side)
        + _u256(o.signature_type)
        + _u256(o.timestamp)
        + o.metadata
        + o.builder
    )


class OrderVerifier:
    """Order hashing and signature recovery for one chain; domain separators cached."""

    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id
        self.domains = {
            ex: domain_separator(chain_id, exchange_address(ex, chain_id), "3" if ex is Exchange.V3 else "2")
            for ex in Exchange
        }

    def order_digest(self, o: OrderFields, exchange: Exchange) -> tuple[bytes, bytes]:
        """(struct hash, EIP-712 digest). The digest is the order id."""
        struct_hash = order_struct_hash(o)
        return struct_hash, keccak(b"\x19\x01" + self.domains[exchange] + struct_hash)

    def recover_order_signer(self, o: OrderFields, exchange: Exchange, struct_hash: bytes, digest: bytes) -> str:
        """The EOA behind the signature (for type 3 the EOA inside the ERC-7739 envelope)."""
        if o.signature_type != SIG_POLY_1271:
            return recover_address(digest, o.signature)
        return self._recover_1271(o, exchange, struct_hash)

    def _recover_1271(self, o: OrderFields, exchange: Exchange, struct_hash: bytes) -> str:
        # Layout (exchange_order_builder_v2._build_poly_1271_order_signature):
        # sig(65) || appDomainSeparator(32) || contentsHash(32) || contentsType || uint16 len(contentsType)
        blob = o.signature
        if len(blob) < 65 + 64 + 2:
            raise SignatureError("short ERC-1271 signature")
        type_len = int.from_bytes(blob[-2:], "big")
        if 65 + 64 + type_len + 2 != len(blob):
            raise SignatureError("bad ERC-7739 envelope length")
        inner, app_domain = blob[:65], blob[65:97]
        contents_hash, contents_type = blob[97:129], blob[129 : 129 + type_len]
        if app_domain != self.domains[exchange]:
            raise SignatureError("wrong app domain")
        if contents_hash != struct_hash or contents_type != ORDER_TYPE_STRING.encode():
            raise SignatureError("envelope does not match the order")
        sign_struct = keccak(
            _TYPED_DATA_SIGN_TYPEHASH
            + contents_hash
            + _DEPOSIT_WALLET_NAME
            + _DEPOSIT_WALLET_VERSION
            + _u256(self.chain_id)
            + _addr_word(o.signer)
            + bytes(32)
        )
        return recover_address(keccak(b"\x19\x01" + app_domain + sign_struct), inner)
