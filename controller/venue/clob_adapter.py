"""Every touch of ``py-clob-client-v2`` beyond its documented calls, in one place.

The official client is used for authentication, L2 headers and REST, but some things
it does not expose: its module-global ``httpx`` client (response headers, timeouts),
its name-mangled per-token caches (tick sizes) and its order utilities (the local
order hash). Each such access below carries a comment saying why. Nothing outside
this module imports ``py_clob_client_v2``. This module may not decide anything about
orders or markets; it only reaches into the library.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import py_clob_client_v2 as _clob  # type: ignore[import-untyped]
from py_clob_client_v2 import (  # type: ignore[import-untyped]
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    BookParams,
    ClobClient,
    OpenOrderParams,
    OrderArgsV2,
    OrderMarketCancelParams,
    PartialCreateOrderOptions,
    PostOrdersV2Args,
)
from py_clob_client_v2.config import get_contract_config  # type: ignore[import-untyped]
from py_clob_client_v2.exceptions import PolyApiException, PolyException  # type: ignore[import-untyped]
from py_clob_client_v2.http_helpers import helpers as _helpers  # type: ignore[import-untyped]
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import (  # type: ignore[import-untyped]
    ExchangeOrderBuilderV2,
)

from controller.ops.redact import scrub

log = logging.getLogger("bandctl.venue")

__all__ = [
    "ApiCreds",
    "AssetType",
    "BalanceAllowanceParams",
    "BookParams",
    "ClobClient",
    "OpenOrderParams",
    "OrderArgsV2",
    "OrderHasher",
    "OrderMarketCancelParams",
    "PartialCreateOrderOptions",
    "PolyApiException",
    "PolyException",
    "PostOrdersV2Args",
    "error_text",
    "forget_tick_sizes",
    "install_header_hook",
    "route_responses",
    "set_http_timeout",
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


# --------------------------------------------------------------------------- caches


def forget_tick_sizes(client: Any, token_ids: Iterable[str]) -> None:
    """Drop the client's cached tick size of these tokens (it caches them forever)."""
    # Internal: ClobClient.__tick_sizes (name-mangled), token id -> tick text.
    cache = getattr(client, "_ClobClient__tick_sizes", None)
    if isinstance(cache, dict):
        for token_id in token_ids:
            cache.pop(token_id, None)


# --------------------------------------------------------------------------- order hash


class OrderHasher:
    """The order id the exchange will assign (the EIP-712 digest), computed locally."""

    def __init__(self, chain_id: int, signer: Any) -> None:
        self._chain_id, self._signer = chain_id, signer
        self._builders: dict[bool, Any] = {}

    def __call__(self, order: Any, neg_risk: bool) -> str:
        builder = self._builders.get(neg_risk)
        if builder is None:
            contracts = get_contract_config(self._chain_id)
            address = contracts.neg_risk_exchange_v2 if neg_risk else contracts.exchange_v2
            # Internal: the library's order utilities (no public hash function).
            builder = ExchangeOrderBuilderV2(address, self._chain_id, self._signer)
            self._builders[neg_risk] = builder
        return str(builder.build_order_hash(builder.build_order_typed_data(order)))
