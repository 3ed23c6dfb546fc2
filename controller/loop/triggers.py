"""From stream events to work: which market to look at, and when its data stops being trusted.

The streams say *when* to reconcile, never *what* to do (level-triggered). A market
message that moves the reference price or the top of book queues the market's
manifests; a user-channel message (our orders, our fills) queues them at once. A book
message followed by frames already received is judged with them, after the last (no
timer: only while they are unread), and before a worker plans it lets the streams apply
what has already arrived (``drain``), so a burst of book updates costs one plan. A
market-stream disconnect (reported by the streams once it outlasts their short grace)
marks every market stale, so the planner pulls the quotes it can no longer price; a
reconnect re-reads REST first.

It plans nothing and sends nothing to the exchange.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from controller.plan.bands import reference_price
from controller.spec.types import MarketMakerSpec
from controller.venue import ws_backlog
from controller.venue.client import MarketInfo
from controller.venue.feedwatch import FeedWatch
from controller.venue.wire_ws import MarketEvent, TickSizeChangeEvent, UserEvent

if TYPE_CHECKING:
    from controller.loop.controller import Controller

log = logging.getLogger("bandctl")

# A worker waits at most this long for the market stream to apply what has arrived, and
# looks at the socket again at least this often meanwhile.
DRAIN_LIMIT_SECONDS = 0.005
DRAIN_POLL_SECONDS = 0.0005
# Before pulling every quote on a one-sided or crossed book, wait for the book to have gone
# this long without a change, for at most the limit.
SETTLE_QUIET_SECONDS = 0.002
SETTLE_LIMIT_SECONDS = 0.010


class StreamHandlers:
    def __init__(self, controller: Controller, ws_validators: tuple[Any, Any] | None) -> None:
        self.controller = controller
        self._ws_validators = ws_validators
        self._triggers: dict[str, tuple[Any, ...]] = {}
        self._market_down = False
        self._applied = threading.Condition()  # notified after every stream event is applied
        self._changed_at: dict[str, tuple[float, int]] = {}  # market -> (last book change, count)
        # Markets whose book changed while more frames were already on the socket, and since
        # when (the market stream's thread alone touches these).
        self._held: dict[str, None] = {}
        self._held_since = 0.0
        self._feed: FeedWatch | None = None  # the market feed watch (connect)

    def connect(self) -> Any:
        """Open both channels and watch the market feed for a stall. Every frame is decoded and
        validated once, at the edge (``venue.wire_ws``); ``ws_validators`` (the channels' JSON
        Schemas) are an extra check for tests and benchmarks only."""
        market_validator, user_validator = self._ws_validators or (None, None)
        c = self.controller
        streams = c.venue.connect_ws(
            on_market_event=self.on_market_event,
            on_user_event=self.on_user_event,
            on_user=c.journaling.on_user_raw if c.journaling is not None else None,
            on_status=self.on_stream_status,
            validate_market=market_validator,
            validate_user=user_validator,
        )
        self._feed = c.venue.watch_feed(books=c.store, on_stalled=self.on_stalled)
        self._feed.on_repaired = self.on_repaired
        c.metrics.watch_ws_rejects(streams.rejected)
        c.reconciler.before_plan = self.drain
        streams.market.after_frame = self.after_market_frame
        c.reconciler.settle = self.settle
        c.reconciler.book_version = self.book_version
        return streams

    def book_version(self, condition_id: str) -> int:
        """How many stream events have changed this market's book so far."""
        with self._applied:
            return self._changed_at.get(condition_id, (0.0, 0))[1]

    def settle(self, condition_id: str) -> bool:
        """Wait until the market's book has gone ``SETTLE_QUIET_SECONDS`` without a change
        (at most ``SETTLE_LIMIT_SECONDS``); True when it changed meanwhile.

        Only for a plan that would pull every quote on a one-sided or crossed book: that is
        what another maker's re-quote looks like halfway, and its next message fixes it."""
        deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
        with self._applied:
            before = self._changed_at.get(condition_id, (0.0, 0))[1]
            while True:
                now = time.monotonic()
                last, _ = self._changed_at.get(condition_id, (0.0, 0))
                wait = min(last + SETTLE_QUIET_SECONDS, deadline) - now
                if wait <= 0:
                    break
                self._applied.wait(wait)
            return self._changed_at.get(condition_id, (0.0, 0))[1] != before

    def drain(self) -> None:
        """Before a worker plans: let the streams apply the messages that have already
        arrived (the rest of a burst, our fills in it), so one plan sees the settled book.

        Waits only while the socket holds unread bytes, woken by each applied event, and
        never longer than ``DRAIN_LIMIT_SECONDS`` in all (a stream thread that stopped
        reading must not hold the workers)."""
        streams = self.controller._streams
        if streams is None:
            return
        # Give the interpreter lock away once first: a thread that has a frame in hand (the
        # stream's reader) or is about to write one (an in-process exchange) runs before we plan.
        for _ in range(3):
            time.sleep(0)
        deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
        # Both channels: a fill of ours that came with the burst (another maker's re-quote
        # trading through our quote) belongs in the same plan.
        while ws_backlog.unread(streams, "market") or ws_backlog.unread(streams, "user"):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            with self._applied:
                # Re-checked at least every DRAIN_POLL_SECONDS: unread bytes may be a PONG,
                # which applies no event.
                self._applied.wait(min(left, DRAIN_POLL_SECONDS))

    def on_stalled(self, token_ids: list[str]) -> None:
        """The feed watch saw REST books move while the market stream stayed silent."""
        c = self.controller
        markets = {m for m in (c.store.market_of_token(t) for t in token_ids) if m}
        for condition_id in markets:
            c.store.mark_stale(condition_id, "the market stream stalled")
        if c._streams is not None:
            c.metrics.ws_reconnect("market")
            c._streams.market.reconnect("the market stream stalled")
        for condition_id in markets:
            c.reconciler.enqueue_market(condition_id)

    def on_repaired(self, token_ids: list[str]) -> None:
        """The feed watch replaced books that had missed a message with REST's: plan again."""
        c = self.controller
        for condition_id in {m for m in (c.store.market_of_token(t) for t in token_ids) if m}:
            c.reconciler.enqueue_market(condition_id)

    # -- market channel ----------------------------------------------------------------

    def on_market_event(self, channel: str, event: MarketEvent) -> None:
        c = self.controller
        changed = c.store.apply_market(event)
        with self._applied:
            stamp = time.monotonic()
            for condition_id in changed:
                count = self._changed_at.get(condition_id, (0.0, 0))[1]
                self._changed_at[condition_id] = (stamp, count + 1)
            self._applied.notify_all()
        if event.timestamp is not None:
            c.metrics.ws_lag(channel, time.time() - event.timestamp)
        if isinstance(event, TickSizeChangeEvent):
            # The stream's word is only a reason to ask REST, the authority on a market's
            # rules: the venue re-reads them in the background and reports a real change
            # through on_rules (a false or dropped change moves nothing).
            c.venue.refresh_tick_size([event.token_id])
        if changed and self._hold(changed):
            return
        self._trigger(changed)

    def _hold(self, changed: Collection[str]) -> bool:
        """Hold a book change's triggers while the rest of its burst is already on the socket.

        Another maker's re-quote arrives as 3-4 messages; judging (and waking a worker) on the
        first only costs the market thread time and a worker that then waits for the rest. No
        timer: held only while received frames are unread (the thread reads them next and
        ``after_market_frame`` runs after each), never longer than ``DRAIN_LIMIT_SECONDS``."""
        streams = self.controller._streams
        if streams is None or getattr(streams.market, "after_frame", None) != self.after_market_frame:
            return False  # no hook runs after the next frame: nothing would release the hold
        now = time.monotonic()
        if self._held and now - self._held_since > DRAIN_LIMIT_SECONDS:
            return False
        if not ws_backlog.unread(streams, "market"):
            return False
        if not self._held:
            self._held_since = now
        self._held.update(dict.fromkeys(changed))
        return True

    def after_market_frame(self) -> None:
        """After every market-stream frame: release held triggers once nothing more is unread."""
        if self._held and not self._hold(()):
            self._trigger(())

    def _trigger(self, changed: Collection[str]) -> None:
        held, self._held = self._held, {}
        c = self.controller
        for condition_id in {**held, **dict.fromkeys(changed)}:
            for name in c.reconciler.names_for_market(condition_id):
                if self._trigger_changed(name):
                    c.reconciler.queue.add(name, coalescible=True)

    def on_rules(self, info: MarketInfo) -> None:
        """A REST read found a market's rules changed (tick size, minimum size): adopt, requeue."""
        c = self.controller
        if not info.accepting_orders:
            c.market_closed(info.condition_id)
            return
        if c.store.update_rules(info.condition_id, info.tick_size, info.min_order_size, info.neg_risk):
            log.info("%s: market rules changed: tick size %s", info.condition_id[:10], info.tick_size)
            c.reconciler.enqueue_market(info.condition_id)

    def _trigger_changed(self, name: str) -> bool:
        """Does this book change matter to the plan? (reference price or top of book moved)."""
        spec = self.controller.spec(name)
        if spec is None:
            return False
        key = trigger_key(spec, self.controller)
        if self._triggers.get(name) == key:
            return False
        self._triggers[name] = key  # one market-stream thread writes it; a stale read only re-queues
        reference = key[0]
        if spec.risk.pull_on_move is not None and isinstance(reference, tuple):
            self.controller.risk.observe_reference(spec, reference[0], self.controller.now())
        return True

    # -- user channel ------------------------------------------------------------------

    def on_user_event(self, channel: str, event: UserEvent) -> None:
        c = self.controller
        for condition_id in c.store.apply_user(event):
            c.reconciler.enqueue_market(condition_id, coalescible=True)
        with self._applied:
            self._applied.notify_all()

    # -- connection changes ------------------------------------------------------------

    def on_stream_status(self, channel: str, connected: bool) -> None:
        c = self.controller
        if c.stopping:
            return  # our own shutdown closes the streams: nothing to pull or re-read
        if connected:
            log.info("%s channel connected", channel)
            if channel == "market":
                self._market_down = False
            streams = c._streams
            if streams is not None and getattr(streams, channel).reconnects:
                c.metrics.ws_reconnect(channel)
            # Anything may have happened while we were away: re-read, then quote again.
            c.threads.spawn("resync-after-connect", c.resync)
            return
        # The streams report a disconnect only once it has outlasted their grace (a blip that
        # reconnects at once is not reported), so the quotes can no longer be priced: pull.
        log.warning("%s channel disconnected: pulling quotes until resynced", channel)
        if channel == "market":
            self._market_down = True
            c.store.mark_stale(None, "market stream disconnected")
        c.reconciler.enqueue_all()

    def check_started(self) -> None:
        """Mark every market stale if the market stream has not connected within the grace."""
        c = self.controller
        started, streams = c._started_at, c._streams
        if streams is None or started is None or streams.market.connected:
            return
        if time.monotonic() - started > c.options.stream_connect_grace_seconds:
            c.store.mark_stale(None, "the market stream has not connected")

    def market_feed_trusted(self) -> bool:
        """May a REST read mark markets fresh? Yes without streams (apply, diff), while the
        market stream is up, and within the start-up grace before it first connects."""
        c = self.controller
        streams = c._streams
        if streams is None or streams.market.connected:
            return True
        if self._market_down:
            return False
        started = c._started_at
        return started is not None and time.monotonic() - started <= c.options.stream_connect_grace_seconds


def trigger_key(spec: MarketMakerSpec, controller: Controller) -> tuple[Any, ...]:
    store = controller.store
    condition_id = spec.market.condition_id
    view = store.market_view(condition_id)
    if view is None:
        return ("untracked",)
    market, own = view
    book = market.books.get(spec.market.quoted_token)
    price = reference_price(spec, market, own)
    top = (book.best_bid, book.best_ask) if book is not None else (None, None)
    return (price, *top, market.tick_size, store.stale_reason(condition_id))


def schema_validators() -> tuple[Any, Any]:
    """Validate every incoming WS message against the channel schemas (compiled once).

    An event object whose ``event_type`` the schema lists is checked against that kind's
    definition alone: the same check (the schema's ``event`` is "an object of a listed kind,
    valid as that kind"), without evaluating every other kind's ``if`` branch, which in
    compiled form raises and formats an exception per kind (most of the check's time).
    Anything else goes through the whole schema, for the same verdict and message."""
    import fastjsonschema

    from controller.schemas import load_schema

    def make(name: str) -> Any:
        schema = load_schema(name)
        check = fastjsonschema.compile(schema)
        root = {k: v for k, v in schema.items() if k not in ("oneOf", "title", "description")}
        kinds = schema["$defs"]["event"]["properties"]["event_type"]["enum"]
        by_kind = {kind: fastjsonschema.compile({**root, "$ref": f"#/$defs/{kind}"}) for kind in kinds}

        def validate(event: dict[str, Any]) -> str | None:
            kind = event.get("event_type") if isinstance(event, dict) else None
            one = by_kind.get(kind) if isinstance(kind, str) else None
            try:
                (one or check)(event)
            except fastjsonschema.JsonSchemaException:
                try:  # the whole schema's message, as before
                    check(event)
                except fastjsonschema.JsonSchemaException as exc:
                    return str(exc)[:200]
            return None

        return validate

    return make("ws-market.schema.json"), make("ws-user.schema.json")
