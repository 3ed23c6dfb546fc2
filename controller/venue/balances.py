"""Reading the funder's balances: collateral and outcome tokens, one request an asset.

Exists because the resync audits ~100 balances each time, and through the official client
each read cost ~1.2 ms of CPU (httpx's request stack, a thread hop, L2 headers rebuilt),
half of a resync at 1,000 markets. On the lean path (``fasthttp``) a read is one ``send``
and one parse on the caller's thread, a few in flight at once on keep-alive connections.
Without the lean path (a stand-in client in tests) each read is the client's own call on
the venue's pool, as before.

Either way every answer is classified by ``rest.call`` (deadline, 429, 5xx, transport,
one scrubbed line) under the endpoint name ``balance-allowance`` and reported to
``on_request``, and parsed by ``wire.parse_balance``, which rejects anything but a
non-negative base-unit amount with a clear error. May not decide what to audit or when
(``loop.resync`` does), nor retry: a failed read fails the whole call, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from controller.observe.state import Balances
from controller.venue import clob_adapter as clob
from controller.venue import inflight
from controller.venue.fasthttp import Http
from controller.venue.inflight import InFlight
from controller.venue.wire import parse_balance

if TYPE_CHECKING:
    from controller.venue.client import Venue

ENDPOINT = "balance-allowance"
# Reads in flight at once on the lean path: the connection pool keeps 4 open, so a window
# of 4 reuses them resync after resync instead of connecting for every read.
WINDOW = 4


def get_balances(venue: Venue, token_ids: Iterable[str]) -> Balances:
    """Collateral and the totals of ``token_ids``, in shares / pUSD (see the module docstring)."""
    wanted: list[str | None] = [None, *token_ids]  # None: collateral
    http = venue.http
    amounts = _lean(venue, http, wanted) if http is not None else _through_client(venue, wanted)
    collateral = amounts.pop(None)
    return Balances(
        collateral=collateral, tokens={token: amount for token, amount in amounts.items() if token is not None}
    )


def _what(token_id: str | None) -> str:
    return "collateral" if token_id is None else token_id


def _lean(venue: Venue, http: Http, wanted: list[str | None]) -> dict[str | None, Decimal]:
    client = venue.client
    amounts: dict[str | None, Decimal] = {}
    for start in range(0, len(wanted), WINDOW):
        window = wanted[start : start + WINDOW]
        flights = []
        for token_id in window:
            path, query = clob.balance_request(client, token_id)
            flights.append(InFlight(ENDPOINT, http.begin("GET", path, "", query).result))
        # Every started read is read (or its connection closed) before any failure is
        # raised, so no connection is left holding an unread answer.
        answers: list[Any] = []
        failure: BaseException | None = None
        for flight in flights:
            try:
                answers.append(inflight.finish(venue, flight))
            except Exception as exc:  # a VenueError from rest.call, raised below
                failure = failure or exc
                answers.append(None)
        if failure is not None:
            raise failure
        for token_id, answer in zip(window, answers, strict=True):
            amounts[token_id] = parse_balance(answer, _what(token_id))
    return amounts


def _through_client(venue: Venue, wanted: list[str | None]) -> dict[str | None, Decimal]:
    client = venue.client

    def read(token_id: str | None) -> Decimal:
        if token_id is None:
            params = clob.BalanceAllowanceParams(asset_type=clob.AssetType.COLLATERAL)
        else:
            params = clob.BalanceAllowanceParams(asset_type=clob.AssetType.CONDITIONAL, token_id=token_id)
        return parse_balance(venue._call(ENDPOINT, client.get_balance_allowance, params), _what(token_id))

    # One request per asset (the API has no batch form): run them side by side.
    with ThreadPoolExecutor(max_workers=venue.config.max_workers, thread_name_prefix="balances") as pool:
        return dict(zip(wanted, pool.map(read, wanted), strict=True))
