"""Shared helpers for the emulator tests: configs, real clients, schema-checked WS readers."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import jsonschema
import websocket
from py_clob_client_v2.client import ClobClient

from controller.schemas import load_schema

# Well-known public test keys (Hardhat/Anvil accounts 0-3). Never fund them on a real chain.
KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDR0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
KEY1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ADDR1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
KEY2 = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
ADDR2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
KEY3 = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"
ADDR3 = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
KEY4 = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"  # unconfigured plain EOA
ADDR4 = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
PROXY1 = "0x1111111111111111111111111111111111111111"  # funder of ADDR1 (POLY_PROXY)
SAFE2 = "0x2222222222222222222222222222222222222222"  # funder of ADDR2 (POLY_GNOSIS_SAFE)
DEPOSIT3 = "0x3333333333333333333333333333333333333333"  # deposit wallet of ADDR3 (POLY_1271)

BTC = "0xf552cc5023d8319aea1181f76f3adcbdc189941acf780de956fe5d1483d7a598"
BTC_YES = "3908542853943523934563267656964073640771816313906088687248131241679293562125"
BTC_NO = "2922792765173274317840968115438063166138049552511689109087648014870300294313"
RAIN = "0x71f2731a0ce76f67ca8980aab6ae4bc13d2a43a6ada270691286d33cd6909d45"
RAIN_YES = "3934352702758155441096561462558087855230576301679012421683930252365834758946"
RAIN_NO = "6508031086564196525038301011180120662688064858933336281210759792568851154776"
NEGR = "0x" + "ab" * 32
NEGR_YES = "1001"
NEGR_NO = "1002"
V3 = "0x" + "cd" * 32  # an Exchange V3 (Protocol V2) market: outcomes are position ids
V3_YES = "3001"
V3_NO = "3002"

MARKET_VALIDATOR = jsonschema.Draft202012Validator(load_schema("ws-market.schema.json"))
USER_VALIDATOR = jsonschema.Draft202012Validator(load_schema("ws-user.schema.json"))


def quiet_config(**overrides: Any) -> dict[str, Any]:
    """Demo markets plus a neg-risk market, no flow, accounts of every signature type."""
    cfg: dict[str, Any] = {
        "chainId": 137,
        "flow": {"enabled": False},
        "rateLimits": {"enabled": False},  # rate-limit tests turn them on explicitly
        "markets": [
            {
                "name": "btc",
                "conditionId": BTC,
                "tokens": {"yes": BTC_YES, "no": BTC_NO},
                "tickSize": "0.01",
                "minOrderSize": 5,
                "negRisk": False,
                "fairValue": 0.5,
                "rewards": {"minSize": 20, "maxSpread": 3},
            },
            {
                "name": "rain",
                "conditionId": RAIN,
                "tokens": {"yes": RAIN_YES, "no": RAIN_NO},
                "tickSize": "0.001",
                "minOrderSize": 5,
                "negRisk": False,
                "fairValue": 0.23,
            },
            {
                "name": "negrisk",
                "conditionId": NEGR,
                "tokens": {"yes": NEGR_YES, "no": NEGR_NO},
                "tickSize": "0.01",
                "minOrderSize": 5,
                "negRisk": True,
                "fairValue": 0.3,
            },
            {
                "name": "v3",
                "conditionId": V3,
                "tokens": {"yes": V3_YES, "no": V3_NO},
                "tickSize": "0.01",
                "minOrderSize": 5,
                "fairValue": 0.6,
                "exchange": "v3",
                "endDate": "2027-01-28T19:00:00Z",
            },
        ],
        "accounts": [
            {
                "address": ADDR0,
                "collateral": 10000,
                "tokens": {BTC_YES: 1000, BTC_NO: 1000, RAIN_YES: 1000, NEGR_YES: 100, V3_YES: 100},
            },
            {"address": ADDR1, "funder": PROXY1, "signatureType": 1, "collateral": 1000},
            {"address": ADDR2, "funder": SAFE2, "signatureType": 2, "collateral": 1000},
            {"address": ADDR3, "funder": DEPOSIT3, "signatureType": 3, "collateral": 1000},
        ],
    }
    cfg.update(overrides)
    return cfg


def client(url: str, key: str = KEY0, **kwargs: Any) -> ClobClient:
    """A real py-clob-client-v2 with API creds derived from the emulator."""
    c = ClobClient(url, chain_id=137, key=key, **kwargs)
    c.set_api_creds(c.create_or_derive_api_key())
    return c


def wait_for(
    predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01, what: str = "the condition"
) -> Any:
    """Poll a condition that another thread or process makes true (never a blind sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


class WsReader:
    """A websocket-client connection read on a thread; every JSON frame is schema-validated."""

    def __init__(self, url: str, validator: jsonschema.Draft202012Validator | None) -> None:
        self.ws = websocket.create_connection(url, timeout=5)
        self.validator = validator
        self.frames: list[Any] = []  # parsed JSON frames (object or list)
        self.texts: list[str] = []  # non-JSON text frames (PONG)
        self.errors: list[str] = []
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                data = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:
                break
            if data == "" or data is None:
                break
            try:
                parsed = json.loads(data)
            except (ValueError, RecursionError):  # garbage and deeply nested frames (fault tests)
                with self._lock:
                    self.texts.append(data)
                continue
            if self.validator is not None:
                for err in self.validator.iter_errors(parsed):
                    self.errors.append(f"{err.message} in {data[:300]}")
            with self._lock:
                self.frames.append(parsed)
        self.closed.set()

    def send(self, obj: Any) -> None:
        self.ws.send(obj if isinstance(obj, str) else json.dumps(obj))

    def sync(self, timeout: float = 5.0) -> None:
        """Round-trip a PING: everything sent before it has been processed by the server."""
        n = self.texts.count("PONG")
        self.send("PING")
        wait_for(lambda: self.texts.count("PONG") > n, timeout)

    def events(self) -> list[dict[str, Any]]:
        """All events flattened (arrays expanded)."""
        with self._lock:
            out: list[dict[str, Any]] = []
            for f in self.frames:
                out.extend(f if isinstance(f, list) else [f])
            return out

    def of(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events() if e.get("event_type") == event_type]

    def wait(self, predicate: Callable[[list[dict[str, Any]]], Any], timeout: float = 5.0) -> Any:
        return wait_for(lambda: predicate(self.events()), timeout)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        self._thread.join(timeout=2)
        assert not self.errors, self.errors[:5]


def market_ws(ws_url: str, assets: list[str], **extra: Any) -> WsReader:
    r = WsReader(ws_url + "/ws/market", MARKET_VALIDATOR)
    r.send({"assets_ids": assets, "type": "market", **extra})
    r.sync()
    return r


def user_ws(ws_url: str, c: ClobClient, markets: list[str] | None = None) -> WsReader:
    r = WsReader(ws_url + "/ws/user", USER_VALIDATOR)
    creds = c.creds
    r.send(
        {
            "auth": {"apiKey": creds.api_key, "secret": creds.api_secret, "passphrase": creds.api_passphrase},
            "type": "user",
            "markets": markets or [],
        }
    )
    r.sync()
    return r
