"""Placing and cancelling orders: batches, rate budget, and outcomes that never guess.

The venue's write path. Orders are signed locally (the signer's EIP-712 digest is the
order id), posted in batches of at most 15 (``POST /orders``) and every answer item is
validated before it is believed: only a JSON ``true`` ``success`` is an acceptance, and
the id the exchange answers must be the hash of the order we signed — anything else is
an *unknown outcome* for that item (the caller re-reads the market), never an orphan.
Cancels go in chunks of up to 1,000 ids (``DELETE /orders``), as large as the cancel
budget's burst allows. Every request is started before any answer is read
(``inflight``), so the posts and cancel chunks of one call, and :func:`cancel_and_place`'s
cancels and places, overlap on the wire; which placements may overlap cancels is the
caller's decision, never this module's.
Signs with the market's REST-refreshed tick size. Knows nothing about bands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from controller.ops.redact import scrub
from controller.plan.ticks import on_grid
from controller.venue import clob_adapter as clob
from controller.venue.amounts import AmountError, AmountProblem
from controller.venue.config import MAX_BATCH, MAX_CANCEL_BATCH
from controller.venue.errors import Ambiguous, ExchangeUnavailable, RateLimited, VenueError
from controller.venue.inflight import InFlight, finish
from controller.venue.orders import CancelResult, OrderRequest, PlaceProblem, PlaceResult, SignRefused
from controller.venue.signer import Exchange, OrderSigner, SignedOrder
from controller.venue.wire import WireError, classify_rejection, parse_cancel, parse_post_answer

if TYPE_CHECKING:
    from controller.venue.client import Venue
    from controller.venue.wire import MarketInfo


def sign(signer: OrderSigner, request: OrderRequest, rules: MarketInfo | None, version: int) -> SignedOrder:
    """Exact amounts from the Decimal price and size, signed with the market's tick size."""
    tick = request.tick_size if request.tick_size is not None else (rules.tick_size if rules else None)
    neg_risk = request.neg_risk if request.neg_risk is not None else (rules.neg_risk if rules else None)
    if tick is None or neg_risk is None:
        raise SignRefused(
            PlaceProblem.INVALID_REQUEST, f"tick size and neg-risk of {request.token_id} unknown: read its market"
        )
    try:
        return signer.build_order(
            request.token_id,
            request.side,
            request.price,
            request.size,
            tick,
            exchange=Exchange.for_market(neg_risk, version),
            expiration=request.expiration if request.order_type == "GTD" else 0,
        )
    except AmountError as exc:
        off_grid = exc.reason is AmountProblem.PRICE_OFF_GRID
        problem = PlaceProblem.OFF_GRID if off_grid else PlaceProblem.INVALID_REQUEST
        raise SignRefused(problem, f"could not sign order: {exc}") from None
    except ValueError as exc:
        raise SignRefused(PlaceProblem.INVALID_REQUEST, f"could not sign order: {exc}") from None


@dataclass
class _Post:
    """One ``POST /orders`` of signed orders sharing a post-only flag, sent or refused."""

    items: list[tuple[int, OrderRequest, str]]  # (index in the batch, request, signed order id)
    post_only: bool
    flight: InFlight | None = None
    refused: VenueError | None = None  # could not be sent at all (the payload failed to build)


@dataclass
class PlacesInFlight:
    """Placements whose posts are on the wire: :func:`finish_places` reads the answers."""

    requests: list[OrderRequest]
    results: dict[int, PlaceResult] = field(default_factory=dict)
    posts: list[_Post] = field(default_factory=list)


@dataclass
class CancelsInFlight:
    chunks: list[tuple[list[str], InFlight | None]] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # id -> why it was not sent


@dataclass
class Sent:
    """What one overlapped cancel+place call answered. ``cancel_error`` is the exchange being
    unavailable for cancels (nothing cancelled); the placements' answers are kept either way."""

    cancel: CancelResult
    places: list[PlaceResult]
    cancel_error: ExchangeUnavailable | None = None


def place_orders(venue: Venue, orders: Sequence[OrderRequest]) -> list[PlaceResult]:
    return finish_places(venue, start_places(venue, orders))


def cancel_orders(venue: Venue, order_ids: Sequence[str]) -> CancelResult:
    return finish_cancels(venue, start_cancels(venue, order_ids))


def cancel_and_place(venue: Venue, order_ids: Sequence[str], orders: Sequence[OrderRequest]) -> Sent:
    """Cancels and places on the wire together: sent back to back, then both answers read.

    The caller decides that ``orders`` need nothing the cancels free (balance, a band's
    maxAmount). Every placement's answer is read even when the cancels fail.
    """
    cancels = start_cancels(venue, order_ids) if order_ids else CancelsInFlight()
    places = start_places(venue, orders) if orders else PlacesInFlight([])
    error: ExchangeUnavailable | None = None
    try:
        cancel = finish_cancels(venue, cancels)
    except ExchangeUnavailable as exc:
        cancel, error = CancelResult(), exc
    return Sent(cancel, finish_places(venue, places), error)


def start_places(venue: Venue, orders: Sequence[OrderRequest]) -> PlacesInFlight:
    started = PlacesInFlight(list(orders))
    for start in range(0, len(orders), MAX_BATCH):
        _start_batch(venue, started, start, list(orders[start : start + MAX_BATCH]))
    return started


def finish_places(venue: Venue, started: PlacesInFlight) -> list[PlaceResult]:
    for post in started.posts:
        signed = [(i, r, lid) for i, r, lid in post.items]
        for (index, _, _), result in zip(signed, _post_results(venue, post), strict=True):
            started.results[index] = result
    results = [started.results[i] for i in range(len(started.requests))]
    off_grid = {r.request.token_id for r in results if r.problem is PlaceProblem.OFF_GRID and _rules_stale(venue, r)}
    if off_grid:
        # The exchange (or our check) says the tick moved: re-read the market's rules now,
        # so the next attempt is signed and planned on the new grid.
        venue.refresh_rules_of_tokens(off_grid)
    return results


def _rules_stale(venue: Venue, result: PlaceResult) -> bool:
    # Our own check refuses only prices off a tick we already refreshed; the exchange's
    # refusal of a price on the tick we know means our knowledge is old.
    rules = venue.rules_of_token(result.request.token_id)
    return rules is None or rules.tick_size == result.request.tick_size


def _with_market_tick(venue: Venue, request: OrderRequest) -> OrderRequest | PlaceResult:
    """Sign with the tick size the exchange last told us (REST), not a stale one."""
    rules = venue.rules_of_token(request.token_id)
    if rules is None or request.tick_size == rules.tick_size:
        return request
    if not on_grid(request.price, rules.tick_size):
        return PlaceResult(
            request,
            None,
            error=f"price {request.price} is off the market's tick size {rules.tick_size} (it changed)",
            problem=PlaceProblem.OFF_GRID,
        )
    return replace(request, tick_size=rules.tick_size)


def _start_batch(venue: Venue, started: PlacesInFlight, offset: int, batch: list[OrderRequest]) -> None:
    results = started.results
    ready: list[tuple[int, OrderRequest]] = []
    for index, request in enumerate(batch, start=offset):
        checked = _with_market_tick(venue, request)
        if isinstance(checked, PlaceResult):
            results[index] = checked
        else:
            ready.append((index, checked))
    if ready:
        try:
            venue.budget.acquire(venue.budget.orders, len(ready), max_wait=venue.config.request_timeout)
        except RateLimited as exc:
            for index, request in ready:
                results[index] = PlaceResult(request, None, error=str(exc), problem=PlaceProblem.RATE_LIMITED)
            ready = []
    signed: list[tuple[int, OrderRequest, SignedOrder]] = []
    for index, request in ready:
        try:
            signed.append((index, request, venue._sign(request)))
        except SignRefused as exc:
            results[index] = PlaceResult(request, None, error=str(exc), problem=exc.problem)
        except VenueError as exc:
            results[index] = PlaceResult(request, None, error=str(exc), problem=PlaceProblem.INVALID_REQUEST)
    # One POST carries one post-only flag: orders that differ in it go in separate posts.
    for post_only in (True, False):
        group = [item for item in signed if item[1].post_only is post_only]
        if not group:
            continue
        # The signer's EIP-712 digest is the id the exchange assigns (checked on every answer).
        post = _Post([(i, r, venue._order_hash(o, r)) for i, r, o in group], post_only)
        try:
            post.flight = venue._start_post([(o, r) for _, r, o in group], post_only)
        except VenueError as exc:
            post.refused = exc
        started.posts.append(post)


def _post_results(venue: Venue, post: _Post) -> list[PlaceResult]:
    signed = post.items
    try:
        if post.refused is not None:
            raise post.refused
        assert post.flight is not None
        raw = finish(venue, post.flight)
    except Ambiguous as exc:
        return [
            PlaceResult(r, local_id, error=str(exc), ambiguous=True, problem=PlaceProblem.UNKNOWN_OUTCOME)
            for _, r, local_id in signed
        ]
    except ExchangeUnavailable as exc:
        problem = PlaceProblem.POST_ONLY_MODE if exc.post_only else PlaceProblem.EXCHANGE_UNAVAILABLE
        return [PlaceResult(r, None, error=str(exc), problem=problem) for _, r, _ in signed]
    except VenueError as exc:
        problem = PlaceProblem.RATE_LIMITED if isinstance(exc, RateLimited) else PlaceProblem.REJECTED
        return [PlaceResult(r, None, error=str(exc), problem=problem) for _, r, _ in signed]
    items = raw if isinstance(raw, list) else []
    return [
        _place_result(venue, request, items[position] if position < len(items) else None, local_id)
        for position, (_, request, local_id) in enumerate(signed)
    ]


def _place_result(venue: Venue, request: OrderRequest, item: Any, local_id: str) -> PlaceResult:
    answer = parse_post_answer(item)
    if answer is None:
        return PlaceResult(
            request, local_id, error="no answer for this order", ambiguous=True, problem=PlaceProblem.NO_ANSWER
        )
    if answer.accepted:
        if answer.order_id.lower() != local_id.lower():
            # Accepted, but not as the order we signed: what is live is unknown.
            shown = scrub(answer.order_id)[:80] or "(none)"
            return PlaceResult(
                request,
                local_id,
                error=f"the exchange accepted it as order {shown}, not as the signed order {local_id}",
                ambiguous=True,
                problem=PlaceProblem.ID_MISMATCH,
                exchange_id=shown,
            )
        return PlaceResult(request, local_id, status=answer.status)
    error = scrub(answer.error)[: venue.config.error_body_chars] or "rejected"
    problem = classify_rejection(answer.error)
    if problem is PlaceProblem.VERSION_MISMATCH:
        # The exchange moved to a new order format: learn it for the next attempt.
        try:
            venue._order_version = venue._call("version", venue.client.get_version)
        except VenueError as exc:  # the next rejection tries again
            error = f"{error} (and the order version could not be re-read: {exc})"[: venue.config.error_body_chars]
    return PlaceResult(request, None, error=error, problem=problem)


def start_cancels(venue: Venue, order_ids: Sequence[str]) -> CancelsInFlight:
    started = CancelsInFlight()
    ids = list(dict.fromkeys(order_ids))
    # As large as the exchange allows (1,000) and the cancel bucket's burst can ever admit.
    chunk = venue.budget.largest_batch(venue.budget.cancels, MAX_CANCEL_BATCH)
    for start in range(0, len(ids), chunk):
        batch = ids[start : start + chunk]
        try:
            venue.budget.acquire(venue.budget.cancels, len(batch), max_wait=venue.config.request_timeout)
            started.chunks.append((batch, venue._start_cancel(batch)))
        except VenueError as exc:
            started.refused.update({order_id: str(exc) for order_id in batch})
    return started


def finish_cancels(venue: Venue, started: CancelsInFlight) -> CancelResult:
    """Every chunk's answer is read before an unavailable exchange is raised."""
    canceled: list[str] = []
    not_canceled: dict[str, str] = dict(started.refused)
    ambiguous: list[str] = []
    unavailable: ExchangeUnavailable | None = None
    for batch, flight in started.chunks:
        assert flight is not None
        try:
            raw = finish(venue, flight)
        except Ambiguous:
            ambiguous.extend(batch)
            continue
        except ExchangeUnavailable as exc:
            unavailable = exc  # nothing of this chunk was cancelled
            continue
        except VenueError as exc:
            not_canceled.update({order_id: str(exc) for order_id in batch})
            continue
        try:
            result = parse_cancel(raw)
        except WireError:
            ambiguous.extend(batch)  # an answer we cannot read says nothing about the orders
            continue
        wanted = set(batch)
        canceled.extend(i for i in result.canceled if i in wanted)
        not_canceled.update({i: why for i, why in result.not_canceled.items() if i in wanted})
        answered = set(result.canceled) | set(result.not_canceled)
        ambiguous.extend(order_id for order_id in batch if order_id not in answered)
    if unavailable is not None and not canceled and not ambiguous:
        raise unavailable  # nothing was cancelled; the caller retries once the exchange is back
    if unavailable is not None:
        # Some chunks went through: report the rest as unknown so the market is re-read.
        ambiguous.extend(i for batch, _ in started.chunks for i in batch if i not in canceled and i not in not_canceled)
    return CancelResult(tuple(canceled), not_canceled, tuple(dict.fromkeys(ambiguous)))


def cancel_market(venue: Venue, condition_id: str) -> CancelResult:
    venue.budget.acquire(venue.budget.cancels, 1, max_wait=venue.config.request_timeout)
    params = clob.OrderMarketCancelParams(market=condition_id)
    raw = venue._call("cancel-market-orders", venue.client.cancel_market_orders, params)
    try:
        return parse_cancel(raw)
    except WireError as exc:
        raise Ambiguous(f"cancel-market-orders: {exc}") from None
