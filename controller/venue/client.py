"""The venue: Polymarket's CLOB V2 through the official ``py-clob-client-v2``.

This is the only module that talks REST to the exchange (through ``clob_adapter``).
It knows orders, books and balances; it knows nothing about bands. Every call is
made on a bounded thread pool with a deadline, under a client-side rate budget that
mirrors the exchange's per-signer token buckets, and reports its outcome without
guessing:

* a definitive answer (accepted, rejected) is returned as such;
* anything else (a timeout, a 5xx, a connection drop, a batch response missing
  items) is reported as *ambiguous*: the order may or may not be live. The caller
  must re-read the market's open orders before acting on that market again. Order
  ids are computed locally (the EIP-712 order hash) so that the re-read can tell
  exactly which submissions landed.

Answers are parsed by ``wire`` into typed values; this module never reads a raw dict
field itself.

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
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from decimal import Decimal
from typing import Any

from controller.observe.state import Balances, OpenOrder
from controller.ops.redact import Secret, scrub
from controller.venue import clob_adapter as clob
from controller.venue.config import (
    MAX_BATCH,
    POLYGON,
    PRODUCTION_CLOB_HOST,
    PRODUCTION_WS_HOST,
    VenueConfig,
)
from controller.venue.errors import Ambiguous, ConfigError, RateLimited, VenueError
from controller.venue.orders import CancelResult, OrderRequest, PlaceResult, Price
from controller.venue.ratebudget import RateBudget, TokenBucket
from controller.venue.wire import (
    BookSnapshot,
    MarketInfo,
    WireError,
    book_from_levels,
    parse_balance,
    parse_book_summary,
    parse_books,
    parse_cancel,
    parse_heartbeat,
    parse_levels,
    parse_market_info,
    parse_open_order,
    parse_open_orders,
    parse_post_answer,
    tick_text,
)
from controller.venue.wire_ws import FrameLimits

__all__ = [
    "MAX_BATCH",
    "POLYGON",
    "PRODUCTION_CLOB_HOST",
    "PRODUCTION_WS_HOST",
    "Ambiguous",
    "BookSnapshot",
    "CancelResult",
    "ConfigError",
    "MarketInfo",
    "OrderRequest",
    "PlaceResult",
    "Price",
    "RateBudget",
    "RateLimited",
    "TokenBucket",
    "Venue",
    "VenueConfig",
    "VenueError",
    "book_from_levels",
    "parse_book_summary",
    "parse_levels",
    "parse_open_order",
]

log = logging.getLogger("bandctl.venue")


class Venue:
    """Polymarket CLOB V2 access for a market maker (see the module docstring)."""

    def __init__(
        self,
        config: VenueConfig,
        *,
        client_factory: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        self._client_factory = client_factory or clob.ClobClient
        self._client: Any = None
        self._pool = ThreadPoolExecutor(max_workers=config.max_workers, thread_name_prefix="venue")
        self.budget = RateBudget(config, clock)
        self._heartbeat_id = ""
        self._order_version: int | None = None
        self._hasher: clob.OrderHasher | None = None
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
            creds = clob.ApiCreds(config.api_key, config.api_secret.reveal(), config.api_passphrase.reveal())
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
        self._hasher = clob.OrderHasher(config.chain_id, client.signer)
        clob.install_header_hook()
        try:
            clob.set_http_timeout(config.request_timeout)
        except Exception:  # pragma: no cover - only a tuning knob
            log.debug("could not set the client's HTTP timeout", exc_info=True)
        clob.route_responses(config.clob_host, self.signer_address, self._observe_rate_headers)

    @property
    def signer_address(self) -> str:
        return str(self.client.get_address())

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
            clob.unroute_responses(self.config.clob_host, self.signer_address)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def connect_ws(self, **handlers: Any) -> Any:
        """Open the market and user channels; returns the :class:`controller.venue.streams.Streams`.

        Handlers (all optional): ``on_market_event(channel, event)`` and
        ``on_user_event(channel, event)`` get typed ``wire_ws`` events; ``on_market`` /
        ``on_user`` the raw dicts (compatibility); ``on_status(channel, connected)``. Follow tokens and markets with
        ``streams.set_subscriptions(token_ids, condition_ids)``.
        """
        from controller.venue.streams import Streams

        config = self.config
        options: dict[str, Any] = {
            "ping_interval": config.ws_ping_interval,
            "stale_after": config.ws_stale_after,
            "disconnect_grace": config.ws_disconnect_grace,
            "limits": FrameLimits(config.ws_max_frame_bytes, config.max_json_depth),
        }
        options.update(handlers)
        if self._streams is None:
            self._streams = Streams(config.ws_host, creds=self.api_creds, **options)
            self._streams.start()
        return self._streams

    # -- plumbing -------------------------------------------------------------------

    def _call(self, endpoint: str, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run a client call on the pool with a deadline; classify failures."""
        started = time.perf_counter()
        outcome: int | str = 200  # the HTTP status, or a word when none came back
        future = self._pool.submit(fn, *args)
        try:
            return future.result(timeout=timeout or self.config.request_timeout + 1.0)
        except FutureTimeout:
            outcome = "timeout"
            raise Ambiguous(f"{endpoint}: no answer in time") from None
        except clob.PolyApiException as exc:
            status = exc.status_code
            outcome = status or "transport"
            text = clob.error_text(exc)
            if status is None or status >= 500:
                raise Ambiguous(f"{endpoint}: {status or 'transport error'}: {text}") from None
            if status == 429:
                raise RateLimited(f"{endpoint}: rate limited by the exchange: {text}", 1.0) from None
            raise VenueError(f"{endpoint}: HTTP {status}: {text}") from None
        except clob.PolyException as exc:
            outcome = "client"
            raise VenueError(f"{endpoint}: {clob.error_text(exc)}") from None
        except VenueError:
            outcome = "error"
            raise
        except Exception as exc:  # a library bug must not look like success
            outcome = "exception"
            raise Ambiguous(f"{endpoint}: {type(exc).__name__}: {clob.error_text(exc)}") from None
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
        return parse_market_info(condition_id, raw)

    def refresh_tick_size(self, token_ids: Iterable[str]) -> None:
        """Forget the client's cached tick size (after a ``tick_size_change``)."""
        clob.forget_tick_sizes(self.client, token_ids)

    def get_book(self, token_id: str) -> BookSnapshot:
        return parse_book_summary(self._call("book", self.client.get_order_book, token_id))

    def get_books(self, token_ids: Sequence[str]) -> dict[str, BookSnapshot]:
        books: dict[str, BookSnapshot] = {}
        for start in range(0, len(token_ids), 500):
            chunk = [clob.BookParams(token_id=t) for t in token_ids[start : start + 500]]
            for snapshot in parse_books(self._call("books", self.client.get_order_books, chunk)):
                books[snapshot.token_id] = snapshot
        return books

    def get_price(self, token_id: str) -> Price:
        """Best bid and ask (mid and spread derived) of one token, from its book."""
        book = self.get_book(token_id).book
        return Price(bid=book.best_bid, ask=book.best_ask)

    # -- account --------------------------------------------------------------------

    def get_orders(self, market: str | None = None) -> list[OpenOrder]:
        """Every open order of the account (optionally of one market), all pages."""
        params = clob.OpenOrderParams(market=market) if market else None
        # Several pages: allow more than one request's time.
        deadline = self.config.request_timeout * 4
        answer = parse_open_orders(self._call("orders", self.client.get_open_orders, params, timeout=deadline))
        if answer.problems:
            # One bad item must not hide the others (nor crash a resync): report and go on.
            log.error(
                "open orders: %d malformed item(s) skipped, e.g. %s", len(answer.problems), answer.problems[0][:200]
            )
        return list(answer.orders)

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

        def balance(params: Any, what: str) -> Decimal:
            return parse_balance(self._call("balance-allowance", self.client.get_balance_allowance, params), what)

        # One request per asset (the API has no batch form): run them side by side.
        wanted = [("collateral", clob.BalanceAllowanceParams(asset_type=clob.AssetType.COLLATERAL))] + [
            (token_id, clob.BalanceAllowanceParams(asset_type=clob.AssetType.CONDITIONAL, token_id=token_id))
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

        def beat() -> Any:
            try:
                return self.client.post_heartbeat(self._heartbeat_id)
            except clob.PolyApiException as exc:
                expected = exc.error_msg.get("heartbeat_id") if isinstance(exc.error_msg, Mapping) else None
                if exc.status_code == 400 and isinstance(expected, str):
                    return self.client.post_heartbeat(expected)
                raise

        self._heartbeat_id = parse_heartbeat(self._call("heartbeat", beat))
        return self._heartbeat_id

    # -- orders ---------------------------------------------------------------------

    def place_orders(self, orders: Sequence[OrderRequest]) -> list[PlaceResult]:
        """Sign and post ``orders`` in batches of at most 15; one result per request, in order."""
        results: list[PlaceResult] = []
        for start in range(0, len(orders), MAX_BATCH):
            results.extend(self._place_batch(list(orders[start : start + MAX_BATCH])))
        return results

    def _place_batch(self, batch: list[OrderRequest]) -> list[PlaceResult]:
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
        args = [clob.PostOrdersV2Args(order=o, orderType=batch[i].order_type) for i, o in signed]
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
        answer = parse_post_answer(item)
        if answer is None:
            return PlaceResult(request, local_id, error="no answer for this order", ambiguous=True)
        error = answer.error
        if answer.accepted and answer.order_id:
            return PlaceResult(request, answer.order_id, status=answer.status)
        if "order_version_mismatch" in error:
            # The exchange moved to a new order format: learn it for the next attempt.
            self._order_version = self._call("version", self.client.get_version)
        return PlaceResult(request, None, error=scrub(error) or "rejected")

    def _sign(self, request: OrderRequest) -> Any:
        if request.side not in ("BUY", "SELL"):
            raise VenueError(f"invalid side {request.side!r}")
        options = clob.PartialCreateOrderOptions(
            tick_size=tick_text(request.tick_size) if request.tick_size is not None else None,
            neg_risk=request.neg_risk,
            version=self._order_version,
        )
        args = clob.OrderArgsV2(
            token_id=request.token_id,
            price=float(request.price),
            size=float(request.size),
            side=request.side,
            expiration=request.expiration if request.order_type == "GTD" else 0,
        )
        try:
            return self.client.create_order(args, options)
        except Exception as exc:  # the client raises plain exceptions on bad input
            raise VenueError(f"could not sign order: {clob.error_text(exc)}") from None

    def _order_hash(self, order: Any, request: OrderRequest) -> str:
        """The order id the exchange will assign (EIP-712 digest), computed locally."""
        if self._hasher is None:
            self._hasher = clob.OrderHasher(self.config.chain_id, self.client.signer)
        return self._hasher(order, bool(request.neg_risk))

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
            try:
                result = parse_cancel(raw)
            except WireError:
                ambiguous.extend(batch)  # an answer we cannot read says nothing about the orders
                continue
            canceled.extend(result.canceled)
            not_canceled.update(result.not_canceled)
            answered = set(result.canceled) | set(result.not_canceled)
            ambiguous.extend(order_id for order_id in batch if order_id not in answered)
        return CancelResult(tuple(canceled), not_canceled, tuple(ambiguous))

    def cancel_market(self, condition_id: str) -> CancelResult:
        """Cancel every order of the account in one market."""
        self.budget.acquire(self.budget.cancels, 1, max_wait=self.config.request_timeout)
        params = clob.OrderMarketCancelParams(market=condition_id)
        raw = self._call("cancel-market-orders", self.client.cancel_market_orders, params)
        try:
            return parse_cancel(raw)
        except WireError as exc:
            raise Ambiguous(f"cancel-market-orders: {exc}") from None


def _float_or_none(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
