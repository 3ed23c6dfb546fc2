"""Authenticating a REST request: L1 (wallet) headers, L2 (API key + HMAC) headers, rate buckets.

Answers production's errors (401 ``Invalid L1 Request headers`` / ``Unauthorized/Invalid
api key``, 429 with ``Retry-After``). It reads the key registry and account config but
changes neither (bucket levels aside).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from aiohttp import web

from .auth import SIG_EOA, ApiKey, SignatureError, verify_hmac, verify_l1
from .httpkit import UNAUTHORIZED, ApiError
from .ratelimit import Decision

if TYPE_CHECKING:
    from .server import SimServer


def rate_headers(d: Decision) -> dict[str, str]:
    return {"Poly-RateLimit-Remaining": str(d.remaining), "Poly-RateLimit-Reset": str(d.reset)}


class RequestAuth:
    def __init__(self, server: SimServer) -> None:
        self.s = server

    def _fresh(self, ts: str) -> bool:
        try:
            t = int(ts)
        except ValueError:
            return False
        skew = self.s.config.settings.auth_max_skew
        return abs(t - time.time()) <= skew or abs(t - self.s.clock.now()) <= skew

    def l1(self, request: web.Request) -> tuple[str, int]:
        """(lower-case address, nonce) of a valid ClobAuth signature."""
        h = request.headers
        address, sig, ts = h.get("POLY_ADDRESS", ""), h.get("POLY_SIGNATURE", ""), h.get("POLY_TIMESTAMP", "")
        nonce = h.get("POLY_NONCE", "0") or "0"
        if not (address and sig and ts) or not self._fresh(ts):
            raise ApiError(401, "Invalid L1 Request headers")
        try:
            addr = verify_l1(self.s.config.chain_id, address, sig, ts, nonce)
        except SignatureError:
            raise ApiError(401, "Invalid L1 Request headers") from None
        return addr, int(nonce)

    async def l2(self, request: web.Request) -> tuple[ApiKey, str]:
        """(API key, raw body text) of a request whose HMAC covers exactly that body."""
        h = request.headers
        address, sig, ts = h.get("POLY_ADDRESS", ""), h.get("POLY_SIGNATURE", ""), h.get("POLY_TIMESTAMP", "")
        key_id, passphrase = h.get("POLY_API_KEY", ""), h.get("POLY_PASSPHRASE", "")
        body = await request.text()
        if not (address and sig and ts and key_id and passphrase):
            raise ApiError(401, UNAUTHORIZED)
        key = self.s.keys.get(key_id, address)
        if (
            key is None
            or key.address != address.lower()
            or not self._fresh(ts)
            or passphrase != key.passphrase
            or not verify_hmac(key, sig, ts, request.method, request.path, body)
        ):
            raise ApiError(401, UNAUTHORIZED)
        return key, body

    def account(self, address: str) -> tuple[str, int]:
        """(funder, signature type) for an EOA; unconfigured addresses are plain EOAs."""
        acct = self.s.engine.accounts.get(address)
        return (acct.funder, acct.signature_type) if acct else (address, SIG_EOA)

    def rate(self, kind: str, key: ApiKey, cost: int) -> Decision:
        d = self.s.ratelimiter.take(kind, key.address, cost)
        if not d.allowed:
            retry = max(1, math.ceil(d.retry_after))
            raise ApiError(429, "Too Many Requests", headers={"Retry-After": str(retry), **rate_headers(d)})
        return d
