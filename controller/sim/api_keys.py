"""API keys: the registry of issued and revoked credentials and the /auth/* endpoints.

Production behaviour since 2026 (protocol notes §8): keys are deterministic per
(address, nonce); creating one that already exists answers ``400 Could not create api
key`` (clients then derive); deriving answers the existing key or ``400 Could not derive
api key!``; ``DELETE /auth/api-key`` revokes the calling key and a revoked (address,
nonce) stays revoked: neither create nor derive brings it back (use another nonce).
It checks no signatures itself (``request_auth`` does) and touches no orders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .auth import ApiKey, derive_api_key, is_address
from .httpkit import ApiError, json_response

if TYPE_CHECKING:
    from .server import SimServer

ERR_CREATE = "Could not create api key"
ERR_DERIVE = "Could not derive api key!"


class KeyRegistry:
    def __init__(self) -> None:
        self.by_key: dict[str, ApiKey] = {}
        self.revoked: set[tuple[str, int]] = set()  # (address, nonce)

    def get(self, key_id: str, address: str = "") -> ApiKey | None:
        """The live key ``key_id``; nonce-0 creds a client cached before an emulator restart count."""
        found = self.by_key.get(key_id)
        if found is None and is_address(address):
            candidate = derive_api_key(address.lower(), 0)
            if candidate.key == key_id and (candidate.address, 0) not in self.revoked:
                self.by_key[key_id] = found = candidate
        return found

    def register(self, key: ApiKey) -> None:
        self.by_key[key.key] = key

    def create(self, address: str, nonce: int) -> ApiKey:
        key = derive_api_key(address, nonce)
        if key.key in self.by_key or (key.address, nonce) in self.revoked:
            raise ApiError(400, ERR_CREATE)
        self.by_key[key.key] = key
        return key

    def derive(self, address: str, nonce: int) -> ApiKey:
        key = derive_api_key(address, nonce)
        if key.key not in self.by_key:
            raise ApiError(400, ERR_DERIVE)
        return key

    def revoke(self, key: ApiKey) -> None:
        self.by_key.pop(key.key, None)
        self.revoked.add((key.address, key.nonce))

    def of_address(self, address: str) -> list[str]:
        return [k.key for k in self.by_key.values() if k.address == address]


def _creds(key: ApiKey) -> dict[str, str]:
    return {"apiKey": key.key, "secret": key.secret, "passphrase": key.passphrase}


class ApiKeyRoutes:
    def __init__(self, server: SimServer) -> None:
        self.s = server

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("POST", "/auth/api-key", self.h_create),
            ("GET", "/auth/derive-api-key", self.h_derive),
            ("GET", "/auth/api-keys", self.h_list),
            ("DELETE", "/auth/api-key", self.h_delete),
            ("GET", "/auth/ban-status/closed-only", self.h_closed_only),
        ]

    async def h_create(self, request: web.Request) -> web.Response:
        return json_response(_creds(self.s.keys.create(*self.s.auth.l1(request))))

    async def h_derive(self, request: web.Request) -> web.Response:
        return json_response(_creds(self.s.keys.derive(*self.s.auth.l1(request))))

    async def h_list(self, request: web.Request) -> web.Response:
        key, _ = await self.s.auth.l2(request)
        return json_response({"apiKeys": self.s.keys.of_address(key.address)})

    async def h_delete(self, request: web.Request) -> web.Response:
        key, _ = await self.s.auth.l2(request)
        self.s.keys.revoke(key)
        self.s.hub.drop_user(key.key)
        return json_response("OK")

    async def h_closed_only(self, request: web.Request) -> web.Response:
        await self.s.auth.l2(request)
        return json_response({"closed_only": False})
