"""Venue configuration: endpoints, credentials, timeouts, limits, read from the environment.

Exists so that every knob of the exchange edge lives in one frozen value. It validates
what it reads (a clear one-line :class:`ConfigError`, never echoing a secret) and may
not talk to the network or import the exchange client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.ops.redact import Secret
from controller.venue.errors import ConfigError

PRODUCTION_CLOB_HOST = "https://clob.polymarket.com"
PRODUCTION_WS_HOST = "wss://ws-subscriptions-clob.polymarket.com"
POLYGON = 137
# The exchange's batch limit for POST /orders.
MAX_BATCH = 15
# The exchange's batch limit for DELETE /orders (since 2026-06-15).
MAX_CANCEL_BATCH = 1000
MIB = 1024 * 1024


@dataclass(frozen=True)
class VenueConfig:
    private_key: Secret | None = field(default=None, repr=False)
    funder: str | None = None
    signature_type: int = 0
    chain_id: int = POLYGON
    clob_host: str = PRODUCTION_CLOB_HOST
    ws_host: str = PRODUCTION_WS_HOST
    api_key: str | None = None
    api_secret: Secret | None = field(default=None, repr=False)
    api_passphrase: Secret | None = field(default=None, repr=False)
    request_timeout: float = 5.0
    max_workers: int = 4
    # Standard tier of the exchange's per-signer buckets (orders and cancels).
    order_rate: float = 40.0
    order_burst: float = 60.0
    cancel_rate: float = 80.0
    cancel_burst: float = 120.0
    # Hostile-input caps at the edge. Measured on generated books: a book with every
    # level of the 0.01 grid filled is 3.8 KB, of the 0.001 grid 36 KB; emulator books
    # are ~0.5 KB. The market channel's initial dump is one frame with every subscribed
    # book, so its cap grows with the subscription: the larger of ws_max_frame_bytes
    # and ws_frame_bytes_per_token per token. A POST /books of 500 full 0.001-grid
    # books is 18 MB: REST bodies are capped a little above that.
    ws_max_frame_bytes: int = 4 * MIB
    ws_frame_bytes_per_token: int = 64 * 1024
    rest_max_body_bytes: int = 24 * MIB
    max_json_depth: int = 32
    # GET /data/orders pages (100 orders each) read before giving up on a resync.
    max_order_pages: int = 200
    # Error messages keep this much of an exchange's answer (enough for its "error").
    error_body_chars: int = 300
    # Market channel liveness: PING every ``ws_ping_interval``; no PONG or data for
    # ``ws_stale_after`` seconds means the link is dead (reconnect).
    ws_ping_interval: float = 2.0
    ws_stale_after: float = 6.0
    # A market-channel disconnect shorter than this does not make markets stale when a
    # REST read right after the reconnect shows their books unchanged.
    ws_disconnect_grace: float = 1.5
    # Stalled-feed watch (Venue.watch_feed): after this much silence on the market channel,
    # compare REST books with the stream's; a difference still undelivered
    # ``feed_confirm_after`` seconds later is a stall.
    feed_probe_after: float = 1.0
    feed_confirm_after: float = 0.5

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, dotenv_path: str | os.PathLike[str] | None = ".env"
    ) -> VenueConfig:
        """Read ``PRIV_KEY``, ``FUNDER_ADDRESS``, ``SIGNATURE_TYPE``, ``CHAIN_ID``, ``CLOB_HOST``,
        ``WS_HOST`` and optional ``CLOB_API_KEY``/``CLOB_SECRET``/``CLOB_PASS_PHRASE``.

        Values come from ``environ`` (default: the process environment) and then from
        the ``.env`` file, the environment winning.
        """
        env: dict[str, str] = {}
        if dotenv_path is not None and os.path.isfile(dotenv_path):
            from dotenv import dotenv_values

            env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        env.update(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def integer(name: str, default: int) -> int:
            raw = get(name)
            if raw is None:
                return default
            try:
                return int(raw)
            except ValueError:
                raise ConfigError(f"{name} must be an integer, got {raw!r}") from None

        key = get("PRIV_KEY")
        if key is not None:
            key = key if key.startswith("0x") else "0x" + key
            if len(key) != 66 or not _is_hex(key[2:]):
                # Never echo the value: it is (a mistyped) private key.
                raise ConfigError("PRIV_KEY must be 32 bytes of hex (64 hex digits, optional 0x)")
        signature_type = integer("SIGNATURE_TYPE", 0)
        if signature_type not in (0, 1, 2, 3):
            raise ConfigError(f"SIGNATURE_TYPE must be 0, 1, 2 or 3, got {signature_type}")
        funder = get("FUNDER_ADDRESS")
        if funder is not None and not _is_address(funder):
            raise ConfigError(f"FUNDER_ADDRESS must be a 0x-prefixed 20-byte address, got {funder!r}")
        if signature_type != 0 and funder is None:
            raise ConfigError(
                f"SIGNATURE_TYPE={signature_type} trades from a proxy, safe or deposit wallet: "
                "set FUNDER_ADDRESS to that wallet's address"
            )
        secret, passphrase = get("CLOB_SECRET"), get("CLOB_PASS_PHRASE")
        return cls(
            private_key=Secret(key) if key else None,
            funder=funder,
            signature_type=signature_type,
            chain_id=integer("CHAIN_ID", POLYGON),
            clob_host=(get("CLOB_HOST") or PRODUCTION_CLOB_HOST).rstrip("/"),
            ws_host=(get("WS_HOST") or PRODUCTION_WS_HOST).rstrip("/"),
            api_key=get("CLOB_API_KEY"),
            api_secret=Secret(secret) if secret else None,
            api_passphrase=Secret(passphrase) if passphrase else None,
        )


def _is_address(text: str) -> bool:
    return len(text) == 42 and text.startswith("0x") and _is_hex(text[2:])


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True
