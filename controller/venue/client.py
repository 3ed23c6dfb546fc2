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

Orders are built and signed by ``signer`` from the exact Decimal price and size (no
float on the way) with the tick size of the market's last REST rules read, and posted
through the client's own L2-signed REST path.

Answers are parsed and validated by ``wire`` into typed values before anything here
believes them.

Typical use::

    venue = Venue(VenueConfig.from_env())
    venue.connect()                          # derives API credentials
    book = venue.get_book(token_id)
    results = venue.place_orders([OrderRequest(token_id, "BUY", Decimal("0.47"), Decimal("15"))])
    venue.cancel_orders([r.order_id for r in results if r.placed])
    venue.disconnect()
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from controller.observe.state import Balances, OpenOrder
from controller.ops.redact import Secret
from controller.venue import balances, books, fasthttp, heartbeats, inflight, rest, trading
from controller.venue import clob_adapter as clob
from controller.venue import rewards as venue_rewards
from controller.venue.config import VenueConfig
from controller.venue.errors import Ambiguous, ConfigError, NotFound, RateLimited, VenueError
from controller.venue.feedwatch import BookSource, FeedWatch, watch_venue_feed
from controller.venue.inflight import InFlight
from controller.venue.orders import CancelResult, OrderRequest, PlaceProblem, PlaceResult, Price
from controller.venue.ratebudget import RateBudget
from controller.venue.rules import MarketRules
from controller.venue.signer import OrderSigner, SignedOrder, wire_json
from controller.venue.wire import (
    BookSnapshot,
    MarketInfo,
    OpenOrders,
    is_position_market,
    parse_book_summary,
    parse_end_time,
    parse_market_info,
    parse_open_order,
    parse_open_orders,
    tick_text,
)
from controller.venue.wire_ws import FrameLimits

# Names callers import from here (their homes are errors, config, orders and wire).
__all__ = ["Ambiguous", "ConfigError", "MarketInfo", "OrderRequest", "RateLimited", "Venue", "VenueConfig"]
__all__ += ["BookSnapshot", "CancelResult", "PlaceProblem", "PlaceResult", "Price", "VenueError"]

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
        self._position_markets: set[str] = set()  # Protocol V2 markets: orders signed for Exchange V3
        self._order_version: int | None = None
        self._signer: OrderSigner | None = None
        self._streams: Any = None
        self._feed_watch: FeedWatch | None = None
        # The exchange's rules per market, as last read from REST (the tick-size authority).
        self.rules = MarketRules()
        self._rules_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="venue-rules")
        # Called after every REST call with (endpoint, seconds, HTTP status or a word such as "timeout").
        self.on_request: Callable[[str, float, int | str], None] | None = None
        # The lean keep-alive path of the requote's calls (None: everything through the client).
        self.http: fasthttp.Http | None = None

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
        clob.install_bounded_requests(config.rest_max_body_bytes, config.max_json_depth, config.error_body_chars)
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
        self._signer = _order_signer(config)
        clob.install_header_hook()
        try:
            clob.set_http_timeout(config.request_timeout)
        except Exception:  # pragma: no cover - only a tuning knob
            log.debug("could not set the client's HTTP timeout", exc_info=True)
        clob.route_responses(config.clob_host, self.signer_address, self.budget.observe_headers)
        if self._client_factory is clob.ClobClient:  # a stand-in client keeps every call its own
            self.http = fasthttp.lean_path(config, self.signer_address, creds, self.budget.observe_headers)

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
        if self._feed_watch is not None:
            self._feed_watch.stop()
            self._feed_watch = None
        if self._streams is not None:
            self._streams.stop()
            self._streams = None
        if self._client is not None:
            clob.unroute_responses(self.config.clob_host, self.signer_address)
        if self.http is not None:
            self.http.close()
            self.http = None
        self._rules_pool.shutdown(wait=False, cancel_futures=True)
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
            "frame_bytes_per_token": config.ws_frame_bytes_per_token,
        }
        options.update(handlers)
        if self._streams is None:
            self._streams = Streams(config.ws_host, creds=self.api_creds, **options)
            self._streams.start()
        return self._streams

    def user_feed_mark(self) -> tuple[int, bool] | None:
        """The user channel's (reconnects, connected); None without streams. While it stays the
        same and connected, nothing the channel reports about our orders was missed."""
        user = None if self._streams is None else self._streams.user
        return None if user is None else (user.reconnects, user.connected)

    def watch_feed(self, books: BookSource, on_stalled: Callable[[list[str]], None]) -> FeedWatch:
        """Start watching the market channel (open it first with :meth:`connect_ws`) for a stall.

        ``books`` is the stream-maintained book store (``ObservedStore``); ``on_stalled``
        gets the tokens whose REST book moved while the stream stayed silent (adopt REST,
        mark stale, reconnect: the caller's choice). Stopped by :meth:`disconnect`.
        """
        if self._streams is None:
            raise VenueError("watch_feed needs the streams: call connect_ws() first")
        self._feed_watch = watch_venue_feed(self, self._streams, books, on_stalled)
        return self._feed_watch

    # -- plumbing -------------------------------------------------------------------

    @property
    def pool(self) -> ThreadPoolExecutor:
        return self._pool

    def _call(self, endpoint: str, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run a client call on the pool with a deadline; classify failures (see ``rest``)."""
        deadline = timeout or self.config.request_timeout + 1.0
        return rest.call(self._pool, endpoint, fn, args, deadline, self.on_request, self.config.error_body_chars)

    # -- market data ----------------------------------------------------------------

    def get_market(self, condition_id: str) -> MarketInfo:
        """Tick size, minimum size, neg-risk flag, tokens and whether orders are accepted.

        Every read is the tick-size authority: the client signs with it from now on, and
        ``on_rules`` hears of it if it differs from what was known.
        """
        raw = self._call("clob-markets", clob.fetch_market_rules, self.client, condition_id)
        info = parse_market_info(condition_id, raw)
        clob.set_tick_sizes(self.client, info.token_ids, tick_text(info.tick_size))
        self.rules.learn(info)
        return info

    def get_end_time(self, condition_id: str) -> datetime | None:
        """When the market stops trading (``end_date_iso`` of ``GET /markets/{id}``), if it says.
        The same read tells a Protocol V2 (position-id) market, signed for Exchange V3."""
        raw = self._call("markets", self.client.get_market, condition_id)
        if is_position_market(raw):
            self._position_markets.add(condition_id)
        return parse_end_time(raw)

    @property
    def on_rules(self) -> Callable[[MarketInfo], None] | None:
        """Called (on a venue thread) with a market's new rules when a REST read changed them."""
        return self.rules.on_change

    @on_rules.setter
    def on_rules(self, handler: Callable[[MarketInfo], None] | None) -> None:
        self.rules.on_change = handler

    def rules_of_token(self, token_id: str) -> MarketInfo | None:
        """The market rules last read from REST for this token's market (None: never read)."""
        return self.rules.of_token(token_id)

    def refresh_rules(self, condition_ids: Iterable[str]) -> dict[str, MarketInfo]:
        """Re-read these markets' rules from REST (call on every resync); failures are logged."""
        fresh = {}
        for condition_id in dict.fromkeys(condition_ids):
            try:
                fresh[condition_id] = self.get_market(condition_id)
            except VenueError as exc:
                log.warning("market %s: rules not refreshed: %s", condition_id[:10], exc)
        return fresh

    def refresh_rules_of_tokens(self, token_ids: Iterable[str]) -> dict[str, MarketInfo]:
        return self.refresh_rules(self.rules.markets_of(token_ids))

    def refresh_tick_size(self, token_ids: Iterable[str]) -> None:
        """A ``tick_size_change`` arrived: re-read the markets' rules from REST, in the
        background (a stream thread calls this). The stream's word alone changes nothing."""
        tokens = list(token_ids)
        with contextlib.suppress(RuntimeError):  # shutting down
            self._rules_pool.submit(self.refresh_rules_of_tokens, tokens)

    def get_book(self, token_id: str) -> BookSnapshot:
        return parse_book_summary(self._call("book", self.client.get_order_book, token_id))

    def get_books(self, token_ids: Sequence[str]) -> dict[str, BookSnapshot]:
        """Books of these tokens (POST /books, 500 a request). A malformed book, or one we did
        not ask for, is left out and logged: that token simply has no fresh REST book."""
        return books.get_books(self, token_ids)

    def get_price(self, token_id: str) -> Price:
        """Best bid and ask (mid and spread derived) of one token, from its book."""
        book = self.get_book(token_id).book
        return Price(bid=book.best_bid, ask=book.best_ask)

    # -- account --------------------------------------------------------------------

    def open_orders(self, market: str | None = None) -> OpenOrders:
        """Every open order of the account (optionally of one market), all pages, with the
        markets whose list a malformed item left incomplete (see ``OpenOrders``)."""
        # Several pages: allow more than one request's time.
        deadline = self.config.request_timeout * 4
        raw = self._call(
            "orders", clob.fetch_open_orders, self.client, market, self.config.max_order_pages, timeout=deadline
        )
        answer = parse_open_orders(raw)
        if answer.problems:
            # One bad item must not hide the others (nor crash a resync): report and go on.
            log.error(
                "open orders: %d malformed item(s) skipped, e.g. %s", len(answer.problems), answer.problems[0][:200]
            )
        return answer

    def get_orders(self, market: str | None = None) -> list[OpenOrder]:
        """``open_orders`` as a list; an incomplete list of ``market`` is a ``VenueError``
        (an order missing from it would look gone, and be placed again)."""
        answer = self.open_orders(market)
        if market is not None and not answer.complete_for(market):
            raise VenueError(f"open orders of {market[:10]}: a malformed item left the list incomplete")
        return list(answer.orders)

    def get_order(self, order_id: str) -> OpenOrder | None:
        try:
            return parse_open_order(self._call("order", self.client.get_order, order_id))
        except NotFound:
            return None

    def get_balances(self, token_ids: Iterable[str]) -> Balances:
        """Collateral and outcome-token totals of the funder, in shares / pUSD."""
        return balances.get_balances(self, token_ids)

    def trades_page(self, after: float, cursor: str) -> tuple[list[Any], str]:
        """One page of the account's trade history after ``after`` (epoch s): (rows, next cursor)."""
        page = self._call("trades", clob.trades_page, self.client, int(after), cursor)
        rows, next_cursor = page.get("trades"), page.get("next_cursor")
        if not isinstance(rows, list) or not isinstance(next_cursor, str):
            raise VenueError("malformed trade history page: expected trades (a list) and next_cursor")
        return rows, next_cursor

    def heartbeat_chain(self) -> str | None:
        """The id the account's heartbeat chain expects next (None: no live chain)."""
        return heartbeats.chain(self)

    def continue_heartbeat_chain(self, expected: str) -> None:
        """Take over a chain whose holder went silent: the next beat echoes ``expected``."""
        self._heartbeat_id = expected

    def heartbeat(self) -> str:
        """Post the exchange heartbeat (dead man's switch); re-chains on an id mismatch."""
        return heartbeats.beat(self)

    def orders_scoring(self, order_ids: Sequence[str]) -> dict[str, bool]:
        """Which of these orders score for liquidity rewards now (``POST /orders-scoring``)."""
        return self._call("orders-scoring", venue_rewards.orders_scoring, self.client, list(order_ids))

    def user_earnings(self, day: date) -> dict[str, Decimal]:
        """Condition id -> the account's rewards earned on ``day`` (``GET /rewards/user``)."""
        return self._call("rewards-user", venue_rewards.user_earnings, self.client, day)

    # -- orders ---------------------------------------------------------------------

    def place_orders(self, orders: Sequence[OrderRequest]) -> list[PlaceResult]:
        """Sign and post ``orders`` in batches of at most 15; one result per request, in order."""
        return trading.place_orders(self, orders)

    def cancel_orders(self, order_ids: Sequence[str]) -> CancelResult:
        """Cancel by id in chunks of up to 1,000. Unknown ids come back in ``not_canceled``."""
        return trading.cancel_orders(self, order_ids)

    def cancel_and_place(self, order_ids: Sequence[str], orders: Sequence[OrderRequest]) -> trading.Sent:
        """Cancels and places on the wire together (``orders`` must need nothing the cancels free)."""
        return trading.cancel_and_place(self, order_ids, orders)

    def cancel_market(self, condition_id: str) -> CancelResult:
        """Cancel every order of the account in one market."""
        return trading.cancel_market(self, condition_id)

    def _start_post(self, orders: Sequence[tuple[SignedOrder, OrderRequest]], post_only: bool) -> InFlight:
        """``POST /orders`` with our own signed bodies, started (read it with ``inflight.finish``)."""
        owner = self.api_creds.api_key
        payload = [order.to_wire(owner, request.order_type, post_only) for order, request in orders]
        text = wire_json(payload)
        return inflight.start(
            self, "post-orders", "POST", "/orders", text, lambda: clob.post_signed_orders(self.client, payload, text)
        )

    def _start_cancel(self, order_ids: list[str]) -> InFlight:
        text = wire_json(order_ids)
        return inflight.start(
            self, "cancel-orders", "DELETE", "/orders", text, lambda: self.client.cancel_orders(order_ids)
        )

    def _sign(self, request: OrderRequest) -> SignedOrder:
        """Exact amounts from the Decimal price and size (no float anywhere), signed locally."""
        if self._signer is None:
            raise VenueError("venue is not connected: call connect() first")
        rules = self.rules.of_token(request.token_id)
        version = 3 if rules is not None and rules.condition_id in self._position_markets else self._order_version or 2
        return trading.sign(self._signer, request, rules, version)

    def _order_hash(self, order: SignedOrder, request: OrderRequest) -> str:
        """The order id the exchange will assign: the EIP-712 digest the signer computed."""
        return order.order_id


def _order_signer(config: VenueConfig) -> OrderSigner:
    assert config.private_key is not None
    try:
        return OrderSigner(config.private_key, config.chain_id, config.signature_type, config.funder)
    except ValueError as exc:  # an unknown chain, a funder that does not fit the signature type
        raise ConfigError(f"cannot sign orders: {exc}") from None
