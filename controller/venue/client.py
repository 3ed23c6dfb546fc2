"""The venue: Polymarket's CLOB V2 through the official ``py-clob-client-v2``.

This is the only module that talks REST to the exchange. It knows orders, books and
balances; it knows nothing about bands. Every call is made on a bounded thread pool
with a deadline, under a client-side rate budget that mirrors the exchange's
per-signer token buckets, and reports its outcome without guessing:

* a definitive answer (accepted, rejected) is returned as such;
* anything else (a timeout, a 5xx, a connection drop, a batch response missing
  items) is reported as *ambiguous*: the order may or may not be live. The caller
  must re-read the market's open orders before acting on that market again. Order
  ids are computed locally (the EIP-712 order hash) so that the re-read can tell
  exactly which submissions landed.

Typical use::

    venue = Venue(VenueConfig.from_env())
    venue.connect()                          # derives API credentials
    book = venue.get_book(token_id)
    results = venue.place_orders([OrderRequest(token_id, "BUY", Decimal("0.47"), Decimal("15"))])
    venue.cancel_orders([r.order_id for r in results if r.placed])
    venue.disconnect()
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from controller.ops.redact import Secret, scrub
from controller.observe.state import Balances, Book, Level, OpenOrder

log = logging.getLogger("bandctl.venue")

PRODUCTION_CLOB_HOST = "https://clob.polymarket.com"
PRODUCTION_WS_HOST = "wss://ws-subscriptions-clob.polymarket.com"
POLYGON = 137
# The exchange's batch limit for POST /orders; cancels are batched the same way so
# that one slow call never holds more than a bounded amount of work.
MAX_BATCH = 15
_ONE_E6 = Decimal(1_000_000)


class VenueError(Exception):
    """A venue call failed definitively (the message is safe to log)."""


class ConfigError(VenueError):
    """Credentials or endpoints are missing or malformed."""


class RateLimited(VenueError):
    """The client-side budget (or the exchange) refused the call; retry after ``retry_after``."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Ambiguous(VenueError):
    """The outcome is unknown (timeout, 5xx, transport error): re-read before acting again."""


# --------------------------------------------------------------------------- config


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


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class MarketInfo:
    condition_id: str
    tokens: dict[str, str]  # outcome label (lower case) -> token id
    tick_size: Decimal
    min_order_size: Decimal
    neg_risk: bool
    accepting_orders: bool

    @property
    def token_ids(self) -> tuple[str, ...]:
        return tuple(self.tokens.values())


@dataclass(frozen=True)
class BookSnapshot:
    token_id: str
    market: str
    book: Book
    hash: str
    timestamp: str
    tick_size: Decimal | None
    last_trade_price: Decimal | None


@dataclass(frozen=True)
class Price:
    bid: Decimal | None
    ask: Decimal | None

    @property
    def mid(self) -> Decimal | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal | None:
        if self.bid is None or self.ask is None:
            return None
        return self.ask - self.bid


@dataclass(frozen=True)
class OrderRequest:
    token_id: str
    side: Literal["BUY", "SELL"]
    price: Decimal
    size: Decimal
    order_type: Literal["GTC", "GTD"] = "GTC"
    post_only: bool = True
    expiration: int = 0  # unix seconds, GTD only
    tick_size: Decimal | None = None  # known from the market; saves a REST call
    neg_risk: bool | None = None


@dataclass(frozen=True)
class PlaceResult:
    request: OrderRequest
    order_id: str | None  # the exchange's id, or the locally computed hash when ambiguous
    status: str = ""  # live, matched, delayed, unmatched ("" when not placed)
    error: str = ""
    ambiguous: bool = False

    @property
    def placed(self) -> bool:
        return bool(self.order_id) and not self.error and not self.ambiguous


@dataclass(frozen=True)
class CancelResult:
    canceled: tuple[str, ...] = ()
    not_canceled: dict[str, str] = field(default_factory=dict)  # id -> the exchange's reason
    ambiguous: tuple[str, ...] = ()

    @property
    def gone(self) -> tuple[str, ...]:
        """Ids no longer open: cancelled now, or already filled/cancelled before."""
        return self.canceled + tuple(i for i, why in self.not_canceled.items() if _already_gone(why))

    @property
    def failed(self) -> dict[str, str]:
        """Ids the exchange refused to cancel although they may still be open."""
        return {i: why for i, why in self.not_canceled.items() if not _already_gone(why)}


def _already_gone(reason: str) -> bool:
    # The exchange answers "Order not found or already canceled" for both cases.
    text = reason.lower()
    return "not found" in text or "already canceled" in text or "already cancelled" in text


# --------------------------------------------------------------------------- rate budget


class TokenBucket:
    """A token bucket that admits a batch whole or not at all."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = burst
        self._stamp = clock()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_take(self, n: float) -> float:
        """Take ``n`` tokens and return 0, or take nothing and return the seconds to wait."""
        if n > self.burst:
            raise ValueError(f"a batch of {n} can never fit a burst of {self.burst}")
        with self._lock:
            now = self._clock()
            self._refill(now)
            if now < self._blocked_until:
                return self._blocked_until - now
            if self._tokens >= n:
                self._tokens -= n
                return 0.0
            return (n - self._tokens) / self.rate

    def available(self) -> float:
        with self._lock:
            self._refill(self._clock())
            return self._tokens

    def observe_server(self, remaining: float | None, retry_after: float | None = None) -> None:
        """Follow the exchange's view: never believe we have more than it says."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            if remaining is not None:
                self._tokens = max(0.0, min(self._tokens, remaining))
            if retry_after is not None and retry_after > 0:
                self._blocked_until = max(self._blocked_until, now + retry_after)
                self._tokens = 0.0


class RateBudget:
    def __init__(self, config: VenueConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.orders = TokenBucket(config.order_rate, config.order_burst, clock)
        self.cancels = TokenBucket(config.cancel_rate, config.cancel_burst, clock)
        self._sleep = time.sleep

    def acquire(self, bucket: TokenBucket, n: int, max_wait: float) -> None:
        deadline = time.monotonic() + max_wait
        while True:
            wait = bucket.try_take(n)
            if wait == 0:
                return
            if time.monotonic() + wait > deadline:
                raise RateLimited(f"rate budget exhausted for a batch of {n}", wait)
            self._sleep(wait)


# --------------------------------------------------------------------------- parsing


def _dec(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise VenueError(f"malformed {what}: {value!r}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise VenueError(f"malformed {what}: {value!r}") from None
    if not result.is_finite():
        raise VenueError(f"malformed {what}: {value!r}")
    return result


def parse_levels(raw: Any, what: str) -> list[Level]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise VenueError(f"malformed {what}: expected a list")
    levels = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise VenueError(f"malformed {what}: expected price levels")
        levels.append(Level(_dec(item.get("price"), f"{what} price"), _dec(item.get("size"), f"{what} size")))
    return levels


def book_from_levels(bids: Iterable[Level], asks: Iterable[Level]) -> Book:
    """Best-first book from levels in any order (REST sends the best level last)."""
    return Book(
        bids=tuple(sorted((lv for lv in bids if lv.size > 0), key=lambda lv: lv.price, reverse=True)),
        asks=tuple(sorted((lv for lv in asks if lv.size > 0), key=lambda lv: lv.price)),
    )


def parse_book_summary(raw: Any) -> BookSnapshot:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("asset_id"), str):
        raise VenueError("malformed order book response")
    tick = raw.get("tick_size")
    last = raw.get("last_trade_price")
    return BookSnapshot(
        token_id=raw["asset_id"],
        market=str(raw.get("market", "")),
        book=book_from_levels(parse_levels(raw.get("bids"), "bids"), parse_levels(raw.get("asks"), "asks")),
        hash=str(raw.get("hash", "")),
        timestamp=str(raw.get("timestamp", "")),
        tick_size=_dec(tick, "tick_size") if tick not in (None, "") else None,
        last_trade_price=_dec(last, "last_trade_price") if last not in (None, "") else None,
    )


def parse_open_order(raw: Any) -> OpenOrder:
    if not isinstance(raw, Mapping):
        raise VenueError("malformed open order")
    side = raw.get("side")
    if side not in ("BUY", "SELL"):
        raise VenueError(f"malformed open order side: {side!r}")
    return OpenOrder(
        id=str(raw["id"]),
        market=str(raw.get("market", "")),
        token_id=str(raw.get("asset_id", "")),
        side=side,
        price=_dec(raw.get("price"), "order price"),
        size=_dec(raw.get("original_size"), "order size"),
        size_matched=_dec(raw.get("size_matched", "0") or "0", "order size_matched"),
    )


def _base_units(value: Any, what: str) -> Decimal:
    return _dec(value, what) / _ONE_E6


def _error_text(exc: BaseException) -> str:
    """A one-line, secret-free description of a client exception."""
    message = getattr(exc, "error_msg", None)
    if isinstance(message, Mapping):
        message = message.get("error") or message.get("errorMsg") or message
    text = str(message if message is not None else (getattr(exc, "msg", None) or exc))
    return scrub(" ".join(text.split()))[:300]


# --------------------------------------------------------------------------- venue


_header_routes: dict[tuple[str, str], Venue] = {}
_hook_lock = threading.Lock()
_hook_installed = False


def _install_header_hook() -> None:
    """Read ``Poly-RateLimit-*`` headers from every response of the official client.

    The client keeps one module-level httpx client and does not expose responses, so
    a response hook is the only way to see the headers without re-implementing REST.
    Responses are routed to the venue whose host and signer made the request.
    """
    global _hook_installed
    with _hook_lock:
        if _hook_installed:
            return
        from py_clob_client_v2.http_helpers import helpers

        helpers._http_client.event_hooks["response"].append(_on_response)
        _hook_installed = True


def _on_response(response: Any) -> None:
    request = response.request
    address = request.headers.get("POLY_ADDRESS", "").lower()
    host = f"{request.url.scheme}://{request.url.netloc.decode()}"
    venue = _header_routes.get((host, address))
    if venue is not None:
        venue._observe_rate_headers(request.method, request.url.path, response.status_code, response.headers)


class Venue:
    """Polymarket CLOB V2 access for a market maker (see the module docstring)."""

    def __init__(
        self,
        config: VenueConfig,
        *,
        client_factory: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if client_factory is None:
            from py_clob_client_v2 import ClobClient

            client_factory = ClobClient
        self.config = config
        self._clock = clock
        self._client_factory = client_factory
        self._client: Any = None
        self._pool = ThreadPoolExecutor(max_workers=config.max_workers, thread_name_prefix="venue")
        self.budget = RateBudget(config, clock)
        self._heartbeat_id = ""
        self._order_version: int | None = None
        self._hash_builders: dict[bool, Any] = {}
        self._streams: Any = None
        # Called after every REST call with (endpoint, seconds, HTTP status or a word such as "timeout").
        self.on_request: Callable[[str, float, int | str], None] | None = None

    # -- lifecycle ------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            raise VenueError("venue is not connected: call connect() first")
        return self._client

    def connect(self) -> None:
        """Create the client and obtain API credentials (derived unless given)."""
        from py_clob_client_v2 import ApiCreds

        config = self.config
        if config.private_key is None:
            raise ConfigError("PRIV_KEY is not set: the venue needs a key to sign requests and orders")
        client = self._client_factory(
            config.clob_host,
            chain_id=config.chain_id,
            key=config.private_key.reveal(),
            signature_type=config.signature_type,
            funder=config.funder,
        )
        if config.api_key and config.api_secret and config.api_passphrase:
            creds = ApiCreds(config.api_key, config.api_secret.reveal(), config.api_passphrase.reveal())
        else:
            creds = self._call("auth", client.create_or_derive_api_key)
            if not getattr(creds, "api_key", None):
                raise VenueError("the exchange returned no API credentials")
        Secret(creds.api_secret), Secret(creds.api_passphrase)  # register for scrubbing
        client.set_api_creds(creds)
        # Resolved once here and passed with every order, so that signing never makes a
        # REST call on the hot path (the client would fetch it on the first order).
        self._order_version = self._call("version", client.get_version)
        self._client = client
        _install_header_hook()
        try:
            import httpx
            from py_clob_client_v2.http_helpers import helpers

            helpers._http_client.timeout = httpx.Timeout(config.request_timeout)
        except Exception:  # pragma: no cover - only a tuning knob
            log.debug("could not set the client's HTTP timeout", exc_info=True)
        _header_routes[(config.clob_host, self.signer_address.lower())] = self

    @property
    def signer_address(self) -> str:
        return self.client.get_address()

    @property
    def funder_address(self) -> str:
        return self.config.funder or self.signer_address

    @property
    def api_creds(self) -> Any:
        return self.client.creds

    def disconnect(self) -> None:
        if self._streams is not None:
            self._streams.stop()
            self._streams = None
        if self._client is not None:
            _header_routes.pop((self.config.clob_host, self.signer_address.lower()), None)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def connect_ws(self, **handlers: Any) -> Any:
        """Open the market and user channels; returns the :class:`controller.venue.streams.Streams`.

        Handlers (all optional): ``on_market(channel, event)``, ``on_user(channel, event)``,
        ``on_status(channel, connected)``. Follow tokens and markets with
        ``streams.set_subscriptions(token_ids, condition_ids)``.
        """
        from controller.venue.streams import Streams

        if self._streams is None:
            self._streams = Streams(self.config.ws_host, creds=self.api_creds, **handlers)
            self._streams.start()
        return self._streams

    # -- plumbing -------------------------------------------------------------------

    def _call(self, endpoint: str, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run a client call on the pool with a deadline; classify failures."""
        from py_clob_client_v2.exceptions import PolyApiException, PolyException

        started = time.perf_counter()
        outcome: int | str = 200  # the HTTP status, or a word when none came back
        future = self._pool.submit(fn, *args)
        try:
            return future.result(timeout=timeout or self.config.request_timeout + 1.0)
        except FutureTimeout:
            outcome = "timeout"
            raise Ambiguous(f"{endpoint}: no answer in time") from None
        except PolyApiException as exc:
            status = exc.status_code
            outcome = status or "transport"
            text = _error_text(exc)
            if status is None or status >= 500:
                raise Ambiguous(f"{endpoint}: {status or 'transport error'}: {text}") from None
            if status == 429:
                raise RateLimited(f"{endpoint}: rate limited by the exchange: {text}", 1.0) from None
            raise VenueError(f"{endpoint}: HTTP {status}: {text}") from None
        except PolyException as exc:
            outcome = "client"
            raise VenueError(f"{endpoint}: {_error_text(exc)}") from None
        except VenueError:
            outcome = "error"
            raise
        except Exception as exc:  # a library bug must not look like success
            outcome = "exception"
            raise Ambiguous(f"{endpoint}: {type(exc).__name__}: {_error_text(exc)}") from None
        finally:
            if self.on_request is not None:
                self.on_request(endpoint, time.perf_counter() - started, outcome)

    def _observe_rate_headers(self, method: str, path: str, status: int, headers: Mapping[str, str]) -> None:
        if method == "POST" and path in ("/order", "/orders"):
            bucket = self.budget.orders
        elif method == "DELETE" and path in ("/order", "/orders", "/cancel-all", "/cancel-market-orders"):
            bucket = self.budget.cancels
        else:
            return
        remaining = _float_or_none(headers.get("Poly-RateLimit-Remaining"))
        retry_after = _float_or_none(headers.get("Retry-After")) if status == 429 else None
        if status == 429 and retry_after is None:
            reset = _float_or_none(headers.get("Poly-RateLimit-Reset"))
            retry_after = max(0.5, reset - time.time()) if reset else 1.0
        bucket.observe_server(remaining, retry_after)

    # -- market data ----------------------------------------------------------------

    def get_market(self, condition_id: str) -> MarketInfo:
        """Tick size, minimum size, neg-risk flag, tokens and whether orders are accepted."""
        raw = self._call("clob-markets", self.client.get_clob_market_info, condition_id)
        if not isinstance(raw, Mapping) or not isinstance(raw.get("t"), list):
            raise VenueError(f"malformed market info for {condition_id}")
        tokens = {}
        for token in raw["t"]:
            if isinstance(token, Mapping) and token.get("t"):
                tokens[str(token.get("o", "")).lower() or str(len(tokens))] = str(token["t"])
        return MarketInfo(
            condition_id=condition_id,
            tokens=tokens,
            tick_size=_dec(raw.get("mts"), "minimum tick size"),
            min_order_size=_dec(raw.get("mos", 0), "minimum order size"),
            neg_risk=bool(raw.get("nr", False)),
            accepting_orders=bool(raw.get("ao", True)),
        )

    def refresh_tick_size(self, token_ids: Iterable[str]) -> None:
        """Forget the client's cached tick size (after a ``tick_size_change``)."""
        cache = getattr(self.client, "_ClobClient__tick_sizes", None)
        if isinstance(cache, dict):
            for token_id in token_ids:
                cache.pop(token_id, None)

    def get_book(self, token_id: str) -> BookSnapshot:
        return parse_book_summary(self._call("book", self.client.get_order_book, token_id))

    def get_books(self, token_ids: Sequence[str]) -> dict[str, BookSnapshot]:
        from py_clob_client_v2 import BookParams

        books: dict[str, BookSnapshot] = {}
        for start in range(0, len(token_ids), 500):
            chunk = [BookParams(token_id=t) for t in token_ids[start : start + 500]]
            raw = self._call("books", self.client.get_order_books, chunk)
            if not isinstance(raw, list):
                raise VenueError("malformed /books response")
            for item in raw:
                snapshot = parse_book_summary(item)
                books[snapshot.token_id] = snapshot
        return books

    def get_price(self, token_id: str) -> Price:
        """Best bid and ask (mid and spread derived) of one token, from its book."""
        book = self.get_book(token_id).book
        return Price(bid=book.best_bid, ask=book.best_ask)

    # -- account --------------------------------------------------------------------

    def get_orders(self, market: str | None = None) -> list[OpenOrder]:
        """Every open order of the account (optionally of one market), all pages."""
        from py_clob_client_v2 import OpenOrderParams

        params = OpenOrderParams(market=market) if market else None
        # Several pages: allow more than one request's time.
        deadline = self.config.request_timeout * 4
        raw = self._call("orders", self.client.get_open_orders, params, timeout=deadline)
        if not isinstance(raw, list):
            raise VenueError("malformed open orders response")
        return [parse_open_order(item) for item in raw]

    def get_order(self, order_id: str) -> OpenOrder | None:
        try:
            raw = self._call("order", self.client.get_order, order_id)
        except VenueError as exc:
            if "404" in str(exc):
                return None
            raise
        return parse_open_order(raw) if isinstance(raw, Mapping) and raw.get("id") else None

    def get_balances(self, token_ids: Iterable[str]) -> Balances:
        """Collateral and outcome-token totals of the funder, in shares / pUSD."""
        from py_clob_client_v2 import AssetType, BalanceAllowanceParams

        def balance(params: Any, what: str) -> Decimal:
            raw = self._call("balance-allowance", self.client.get_balance_allowance, params)
            if not isinstance(raw, Mapping):
                raise VenueError(f"malformed balance for {what}")
            return _base_units(raw.get("balance"), f"{what} balance")

        # One request per asset (the API has no batch form): run them side by side.
        wanted = [("collateral", BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))] + [
            (token_id, BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=token_id))
            for token_id in token_ids
        ]
        with ThreadPoolExecutor(max_workers=self.config.max_workers, thread_name_prefix="balances") as pool:
            amounts = dict(
                zip((w for w, _ in wanted), pool.map(lambda item: balance(item[1], item[0]), wanted), strict=True)
            )
        collateral = amounts.pop("collateral")
        return Balances(collateral=collateral, tokens=amounts)

    def heartbeat(self) -> str:
        """Post the exchange heartbeat (dead man's switch); re-chains on an id mismatch."""
        from py_clob_client_v2.exceptions import PolyApiException

        def beat() -> Any:
            try:
                return self.client.post_heartbeat(self._heartbeat_id)
            except PolyApiException as exc:
                expected = exc.error_msg.get("heartbeat_id") if isinstance(exc.error_msg, Mapping) else None
                if exc.status_code == 400 and isinstance(expected, str):
                    return self.client.post_heartbeat(expected)
                raise

        raw = self._call("heartbeat", beat)
        if not isinstance(raw, Mapping) or not isinstance(raw.get("heartbeat_id"), str):
            raise VenueError("malformed heartbeat response")
        self._heartbeat_id = raw["heartbeat_id"]
        return self._heartbeat_id

    # -- orders ---------------------------------------------------------------------

    def place_orders(self, orders: Sequence[OrderRequest]) -> list[PlaceResult]:
        """Sign and post ``orders`` in batches of at most 15; one result per request, in order."""
        results: list[PlaceResult] = []
        for start in range(0, len(orders), MAX_BATCH):
            results.extend(self._place_batch(list(orders[start : start + MAX_BATCH])))
        return results

    def _place_batch(self, batch: list[OrderRequest]) -> list[PlaceResult]:
        from py_clob_client_v2 import PostOrdersV2Args

        try:
            self.budget.acquire(self.budget.orders, len(batch), max_wait=self.config.request_timeout)
        except RateLimited as exc:
            return [PlaceResult(r, None, error=str(exc)) for r in batch]
        signed, local_ids, results = [], [], {}
        for index, request in enumerate(batch):
            try:
                order = self._sign(request)
            except VenueError as exc:
                results[index] = PlaceResult(request, None, error=str(exc))
                continue
            signed.append((index, order))
            local_ids.append(self._order_hash(order, request))
        if not signed:
            return [results[i] for i in range(len(batch))]
        post_only = batch[signed[0][0]].post_only
        args = [PostOrdersV2Args(order=o, orderType=batch[i].order_type) for i, o in signed]
        try:
            raw = self._call("post-orders", self.client.post_orders, args, post_only)
        except Ambiguous as exc:
            for (index, _), local_id in zip(signed, local_ids, strict=True):
                results[index] = PlaceResult(batch[index], local_id, error=str(exc), ambiguous=True)
            return [results[i] for i in range(len(batch))]
        except VenueError as exc:
            for index, _ in signed:
                results[index] = PlaceResult(batch[index], None, error=str(exc))
            return [results[i] for i in range(len(batch))]
        items = raw if isinstance(raw, list) else []
        for position, ((index, _), local_id) in enumerate(zip(signed, local_ids, strict=True)):
            item = items[position] if position < len(items) else None
            results[index] = self._place_result(batch[index], item, local_id)
        return [results[i] for i in range(len(batch))]

    def _place_result(self, request: OrderRequest, item: Any, local_id: str) -> PlaceResult:
        if not isinstance(item, Mapping):
            return PlaceResult(request, local_id, error="no answer for this order", ambiguous=True)
        error = str(item.get("errorMsg") or item.get("error") or "")
        order_id = item.get("orderID") or ""
        if item.get("success") and order_id and not error:
            return PlaceResult(request, str(order_id), status=str(item.get("status", "live")).lower())
        if "order_version_mismatch" in error:
            # The exchange moved to a new order format: learn it for the next attempt.
            self._order_version = self._call("version", self.client.get_version)
        return PlaceResult(request, None, error=scrub(error) or "rejected")

    def _sign(self, request: OrderRequest) -> Any:
        from py_clob_client_v2 import OrderArgsV2, PartialCreateOrderOptions

        if request.side not in ("BUY", "SELL"):
            raise VenueError(f"invalid side {request.side!r}")
        options = PartialCreateOrderOptions(
            tick_size=_tick_text(request.tick_size) if request.tick_size is not None else None,
            neg_risk=request.neg_risk,
            version=self._order_version,
        )
        args = OrderArgsV2(
            token_id=request.token_id,
            price=float(request.price),
            size=float(request.size),
            side=request.side,
            expiration=request.expiration if request.order_type == "GTD" else 0,
        )
        try:
            return self.client.create_order(args, options)
        except Exception as exc:  # the client raises plain exceptions on bad input
            raise VenueError(f"could not sign order: {_error_text(exc)}") from None

    def _order_hash(self, order: Any, request: OrderRequest) -> str:
        """The order id the exchange will assign (EIP-712 digest), computed locally."""
        from py_clob_client_v2.config import get_contract_config
        from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2

        neg_risk = bool(request.neg_risk)
        builder = self._hash_builders.get(neg_risk)
        if builder is None:
            contracts = get_contract_config(self.config.chain_id)
            address = contracts.neg_risk_exchange_v2 if neg_risk else contracts.exchange_v2
            builder = ExchangeOrderBuilderV2(address, self.config.chain_id, self.client.signer)
            self._hash_builders[neg_risk] = builder
        return builder.build_order_hash(builder.build_order_typed_data(order))

    def cancel_orders(self, order_ids: Sequence[str]) -> CancelResult:
        """Cancel by id in batches of at most 15. Unknown ids come back in ``not_canceled``."""
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        ambiguous: list[str] = []
        ids = list(dict.fromkeys(order_ids))
        for start in range(0, len(ids), MAX_BATCH):
            batch = ids[start : start + MAX_BATCH]
            try:
                self.budget.acquire(self.budget.cancels, len(batch), max_wait=self.config.request_timeout)
                raw = self._call("cancel-orders", self.client.cancel_orders, batch)
            except Ambiguous:
                ambiguous.extend(batch)
                continue
            except VenueError as exc:
                not_canceled.update({order_id: str(exc) for order_id in batch})
                continue
            result = _parse_cancel(raw)
            canceled.extend(result.canceled)
            not_canceled.update(result.not_canceled)
            answered = set(result.canceled) | set(result.not_canceled)
            ambiguous.extend(order_id for order_id in batch if order_id not in answered)
        return CancelResult(tuple(canceled), not_canceled, tuple(ambiguous))

    def cancel_market(self, condition_id: str) -> CancelResult:
        """Cancel every order of the account in one market."""
        from py_clob_client_v2 import OrderMarketCancelParams

        self.budget.acquire(self.budget.cancels, 1, max_wait=self.config.request_timeout)
        params = OrderMarketCancelParams(market=condition_id)
        raw = self._call("cancel-market-orders", self.client.cancel_market_orders, params)
        return _parse_cancel(raw)


def _parse_cancel(raw: Any) -> CancelResult:
    if not isinstance(raw, Mapping):
        raise Ambiguous("malformed cancel response")
    canceled = raw.get("canceled") or []
    not_canceled = raw.get("not_canceled") or {}
    if not isinstance(canceled, list) or not isinstance(not_canceled, Mapping):
        raise Ambiguous("malformed cancel response")
    return CancelResult(tuple(str(i) for i in canceled), {str(k): str(v) for k, v in not_canceled.items()})


def _tick_text(tick: Decimal) -> str:
    # The client indexes its rounding table by these exact strings ("0.01", never "0.010").
    text = format(tick.normalize(), "f")
    if text not in ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"):
        raise VenueError(f"unsupported tick size {text}")
    return text


def _float_or_none(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
