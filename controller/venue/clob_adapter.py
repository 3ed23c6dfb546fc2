"""Every touch of ``py-clob-client-v2`` beyond its documented calls, in one place.

The official client is used for authentication, L2 headers and REST, but some things
it does not expose: its module-global ``httpx`` client (response headers, timeouts,
body caps), its name-mangled per-token caches (tick sizes) and its private signed-REST
helpers (``_l2_headers``/``_get``/``_post``: pages, rules, our own order bodies). Each
such access below carries a comment saying why. Nothing outside this module imports
``py_clob_client_v2``. This module may not decide anything about orders or markets; it
only reaches into the library."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import py_clob_client_v2 as _clob
from py_clob_client_v2 import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    BookParams,
    ClobClient,
    OpenOrderParams,
    OrderMarketCancelParams,
)
from py_clob_client_v2.endpoints import GET_BALANCE_ALLOWANCE, GET_CLOB_MARKET, ORDERS, POST_ORDERS
from py_clob_client_v2.exceptions import PolyApiException, PolyException
from py_clob_client_v2.http_helpers import helpers as _helpers

from controller.ops.redact import scrub
from controller.venue.boundedjson import JsonProblem, JsonRejected, decode

log = logging.getLogger("bandctl.venue")

__all__ = [
    "ApiCreds",
    "AssetType",
    "BalanceAllowanceParams",
    "BookParams",
    "ClobClient",
    "OpenOrderParams",
    "OrderMarketCancelParams",
    "PolyApiException",
    "PolyException",
    "answer_or_raise",
    "balance_request",
    "error_text",
    "fetch_market_rules",
    "fetch_open_orders",
    "forget_tick_sizes",
    "install_bounded_requests",
    "install_header_hook",
    "post_signed_orders",
    "route_responses",
    "set_http_timeout",
    "set_tick_sizes",
    "unroute_responses",
]

assert _clob  # imported for its side effects on the recursion limit, handled below

# --------------------------------------------------------------------------- recursion limit

# py-clob-client-v2 imports py_ecc, whose package __init__ calls
# sys.setrecursionlimit(100000). With that limit a hostile deeply nested JSON frame
# makes the C json decoder recurse until the thread's C stack overflows (SIGSEGV)
# instead of raising RecursionError. Nothing we use from py_ecc needs deep recursion,
# so put back the interpreter's default.
SANE_RECURSION_LIMIT = 1000
if sys.getrecursionlimit() > SANE_RECURSION_LIMIT:
    sys.setrecursionlimit(SANE_RECURSION_LIMIT)


# --------------------------------------------------------------------------- errors


def error_text(exc: BaseException, limit: int = 300) -> str:
    """A one-line, secret-free description of a client exception, at most ``limit`` chars."""
    message = getattr(exc, "error_msg", None)
    if isinstance(message, Mapping):
        message = message.get("error") or message.get("errorMsg") or message
    text = str(message if message is not None else (getattr(exc, "msg", None) or exc))
    return scrub(" ".join(text.split()))[:limit]


# --------------------------------------------------------------------------- response headers

ResponseObserver = Callable[[str, str, int, Mapping[str, str]], None]  # method, path, status, headers
_routes: dict[tuple[str, str], ResponseObserver] = {}
_hook_lock = threading.Lock()
_hook_installed = False


def install_header_hook() -> None:
    """Read ``Poly-RateLimit-*`` headers from every response of the official client.

    The client keeps one module-level httpx client and does not expose responses, so
    a response hook on it is the only way to see the headers without re-implementing
    REST. Responses are routed by (host, signer address) to the venue that made them.
    """
    global _hook_installed
    with _hook_lock:
        if _hook_installed:
            return
        # Internal: the library's module-global httpx.Client.
        _helpers._http_client.event_hooks["response"].append(_on_response)
        _hook_installed = True


def route_responses(host: str, address: str, observer: ResponseObserver) -> None:
    _routes[(host, address.lower())] = observer


def unroute_responses(host: str, address: str) -> None:
    _routes.pop((host, address.lower()), None)


def _on_response(response: Any) -> None:
    request = response.request
    address = request.headers.get("POLY_ADDRESS", "").lower()
    host = f"{request.url.scheme}://{request.url.netloc.decode()}"
    observer = _routes.get((host, address))
    if observer is not None:
        observer(request.method, request.url.path, response.status_code, response.headers)


def set_http_timeout(seconds: float) -> None:
    """Bound every request of the library (it sets no timeout of its own)."""
    import httpx

    # Internal: the library's module-global httpx.Client.
    _helpers._http_client.timeout = httpx.Timeout(seconds)


_timeout_override = threading.local()


@contextmanager
def http_timeout(seconds: float) -> Iterator[None]:
    """Give the library's requests made by this thread, inside the block, their own timeout
    (the heartbeat waits longer than other calls: a late answer still carries the next id)."""
    previous = getattr(_timeout_override, "seconds", None)
    _timeout_override.seconds = seconds
    try:
        yield
    finally:
        _timeout_override.seconds = previous


# --------------------------------------------------------------------------- bounded REST


class _Limits:
    max_body = 24 * 1024 * 1024
    max_depth = 32
    error_chars = 300


def install_bounded_requests(max_body: int, max_depth: int, error_chars: int) -> None:
    """Make every REST answer of the library size-capped, depth-checked and quietly reported.

    The library's ``helpers.request`` reads whole bodies (a 40 MB answer took RSS from
    71 to 254 MB), decodes them with the stdlib without a nesting bound, and logs every
    non-200 answer as an ERROR line with the full body. ``get``/``post``/``delete`` look
    ``request`` up as a module global on every call, so replacing that one function
    covers every endpoint. Answers keep the library's shapes (decoded JSON, or the text;
    ``PolyApiException`` with ``status_code`` and ``error_msg`` on a non-200).
    """
    _Limits.max_body, _Limits.max_depth, _Limits.error_chars = max_body, max_depth, error_chars
    # Internal: helpers.request, the library's single HTTP entry point.
    _helpers.request = _bounded_request


def _bounded_request(endpoint: str, method: str, headers: Any = None, data: Any = None, params: Any = None) -> Any:
    import httpx

    # Internal: the library's header defaults (User-Agent, Content-Type, gzip).
    headers = _helpers._overload_headers(method, headers)
    content = data.encode("utf-8") if isinstance(data, str) else None
    body_json = None if isinstance(data, str) else data
    try:
        # Internal: the library's module-global httpx.Client (keeps its pool, HTTP/2, hooks).
        override = getattr(_timeout_override, "seconds", None)
        timeout = httpx.USE_CLIENT_DEFAULT if override is None else httpx.Timeout(override)
        with _helpers._http_client.stream(
            method, endpoint, headers=headers, content=content, json=body_json, params=params, timeout=timeout
        ) as response:
            body = _read_capped(response)
            status = response.status_code
    except PolyApiException:
        raise
    except httpx.HTTPError as exc:
        log.debug("%s %s: %s", method, _path(endpoint), type(exc).__name__)
        raise PolyApiException(error_msg=f"request error: {type(exc).__name__}") from None
    # The venue reports a failure (one line, cut short); no full-body ERROR here.
    return answer_or_raise(status, body, method, endpoint)


def answer_or_raise(status: int, body: bytes, method: str, endpoint: str) -> Any:
    """What the library's ``request`` returns for an answer read elsewhere (``fasthttp``):
    the decoded body on a 200, else ``PolyApiException`` with ``status_code``."""
    answer = _decode_answer(body)
    if status != 200:
        log.debug("%s %s: HTTP %s: %s", method, _path(endpoint), status, error_text_of(answer))
        error = PolyApiException(error_msg=answer)
        error.status_code = status
        raise error
    return answer


def _read_capped(response: Any) -> bytes:
    limit = _Limits.max_body
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PolyApiException(error_msg=f"answer of {declared} bytes is over the {limit}-byte limit")
    chunks, size = [], 0
    for chunk in response.iter_bytes():  # decompressed: a gzip bomb is capped too
        size += len(chunk)
        if size > limit:
            raise PolyApiException(error_msg=f"answer over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode_answer(body: bytes) -> Any:
    try:
        # exact=False: the library does float arithmetic on some fields it reads itself.
        return decode(body, max_bytes=_Limits.max_body, max_depth=_Limits.max_depth, exact=False)
    except JsonRejected as exc:
        if exc.problem is JsonProblem.NOT_JSON or exc.problem is JsonProblem.NOT_UTF8:
            return body[: _Limits.error_chars * 4].decode("utf-8", "replace")  # the library returns text
        raise PolyApiException(error_msg=f"answer rejected: {exc}") from None


def error_code(exc: BaseException) -> str | None:
    """The exchange's machine-readable ``code`` in an error body (``post_only_mode``), if any."""
    message = getattr(exc, "error_msg", None)
    code = message.get("code") if isinstance(message, dict) else None
    return code if isinstance(code, str) else None


def error_text_of(answer: Any) -> str:
    if isinstance(answer, Mapping):
        answer = answer.get("error") or answer.get("errorMsg") or answer
    return scrub(" ".join(str(answer).split()))[: _Limits.error_chars]


def _path(endpoint: str) -> str:
    return endpoint.split("?", 1)[0][-80:]


# --------------------------------------------------------------------------- REST through the client


def fetch_open_orders(client: Any, market: str | None, max_pages: int = 200) -> list[Any]:
    """Every page of ``GET /data/orders``, envelopes checked, at most ``max_pages`` pages.

    The library's ``get_open_orders`` indexes ``response["next_cursor"]`` unchecked and
    loops until the server says stop: a hostile answer is a KeyError or an endless loop
    on a pool thread. Same requests and headers as the library (its L2 header helper).
    """
    # Internal: ClobClient._l2_headers / _get (the signed REST path the library uses).
    headers = client._l2_headers("GET", ORDERS)
    cursor, items = "MA==", []
    for _page in range(max_pages):
        query = {"next_cursor": cursor}
        if market:
            query["market"] = market
        page = client._get(f"{client.host}{ORDERS}", headers=headers, params=query)
        if not isinstance(page, Mapping) or not isinstance(page.get("data"), list):
            raise PolyException("malformed open orders page: expected an object with a data list")
        items.extend(page["data"])
        following = page.get("next_cursor")
        if following == "LTE=":
            return items
        if not isinstance(following, str) or not following or len(following) > 64:
            raise PolyException("malformed open orders page: bad next_cursor")
        cursor = following
    raise PolyException(f"open orders: more than {max_pages} pages")


def fetch_market_rules(client: Any, condition_id: str) -> Any:
    """``GET /clob-markets/{condition_id}`` without the library's caching side effects.

    ``get_clob_market_info`` would write ``str(mts)`` into the tick cache before we have
    validated it; the caller validates and then calls :func:`set_tick_sizes`.
    """
    # Internal: ClobClient._get and .host (the same unauthenticated GET the library makes).
    return client._get(f"{client.host}{GET_CLOB_MARKET}{condition_id}")


def balance_request(client: Any, token_id: str | None) -> tuple[str, str]:
    """(path, query) of the ``GET /balance-allowance`` the library's ``get_balance_allowance``
    sends for collateral (``token_id`` None) or one outcome token, to send it on the lean
    path; the L2 signature covers the path alone, as the library signs it."""
    # Internal: the order builder's signature type, which the library's own call sends.
    query: dict[str, Any] = {"signature_type": int(client.builder.signature_type)}
    if token_id is None:
        query["asset_type"] = str(AssetType.COLLATERAL)
    else:
        query["asset_type"] = str(AssetType.CONDITIONAL)
        if token_id:  # the library leaves an empty one out
            query["token_id"] = token_id
    return GET_BALANCE_ALLOWANCE, urlencode(query)


def post_signed_orders(client: Any, payload: list[dict[str, Any]], serialized: str) -> Any:
    """``POST /orders`` with bodies we built and signed ourselves (``controller.venue.signer``).

    Same path as the library's ``post_orders`` (its L2 headers over the exact serialized
    text, its ``_post``), minus its float order building and its trade polling (our
    orders are post-only: they never trade at placement).
    """
    # Internal: ClobClient._l2_headers / _post.
    headers = client._l2_headers("POST", POST_ORDERS, body=payload, serialized_body=serialized)
    return client._post(f"{client.host}{POST_ORDERS}", headers=headers, data=serialized)


# --------------------------------------------------------------------------- caches


def forget_tick_sizes(client: Any, token_ids: Iterable[str]) -> None:
    """Drop the client's cached tick size of these tokens (it caches them forever)."""
    # Internal: ClobClient.__tick_sizes (name-mangled), token id -> tick text.
    cache = getattr(client, "_ClobClient__tick_sizes", None)
    if isinstance(cache, dict):
        for token_id in token_ids:
            cache.pop(token_id, None)


def set_tick_sizes(client: Any, token_ids: Iterable[str], tick_text: str) -> None:
    """Tell the client these tokens' tick size (a validated REST read) so that it signs with it.

    The client refuses an order whose tick is finer than its cached one and otherwise
    never refreshes the cache.
    """
    # Internal: ClobClient.__tick_sizes (name-mangled), token id -> tick text.
    cache = getattr(client, "_ClobClient__tick_sizes", None)
    if isinstance(cache, dict):
        for token_id in token_ids:
            cache[token_id] = tick_text


def trades_page(client: Any, after: int, cursor: str) -> Any:
    """One page of ``GET /data/trades`` (public API: ``get_trades_paginated``)."""
    from py_clob_client_v2.clob_types import TradeParams

    page = client.get_trades_paginated(TradeParams(after=after), next_cursor=cursor)
    if not isinstance(page, dict):
        raise PolyException("malformed trade history page")
    return page
