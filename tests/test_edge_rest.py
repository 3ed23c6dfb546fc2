"""Hostile REST answers at the edge, faked at the HTTP layer (a stub exchange on 127.0.0.1):
bodies are size-capped, items are validated before they are believed, errors stay short."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from controller.ops.redact import Secret
from controller.venue.client import Venue, VenueConfig, VenueError
from controller.venue.orders import OrderRequest, PlaceProblem

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
COND = "0x" + "ab" * 32
YES, NO = "111", "222"
MARKET = {"c": COND, "t": [{"t": YES, "o": "Yes"}, {"t": NO, "o": "No"}], "mts": 0.01, "mos": 5, "ao": True}
ORDER = {"id": "0x1", "market": COND, "asset_id": YES, "side": "BUY", "original_size": "10", "price": "0.5"}

Route = Callable[[BaseHTTPRequestHandler, bytes], tuple[int, bytes, dict[str, str]]]


def answer(status: int, body: Any, **headers: str) -> tuple[int, bytes, dict[str, str]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return status, data, headers


class Stub:
    """A fake exchange: ``routes[(method, path)]`` answers; anything else is a 404."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {
            ("GET", "/version"): lambda h, b: answer(200, {"version": 2}),
            ("GET", f"/clob-markets/{COND}"): lambda h, b: answer(200, MARKET),
        }
        self.requests: list[tuple[str, str, bytes]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle and delayed ACKs
                # add 40 ms to every request.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                stub.requests.append((self.command, path, body))
                route = stub.routes.get((self.command, path))
                status, data, headers = route(self, body) if route else answer(404, {"error": "not found"})
                self.send_response(status)
                if "no-length" not in headers:
                    self.send_header("content-length", str(len(data)))
                else:
                    self.send_header("connection", "close")
                self.send_header("content-type", "application/json")
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:  # the client hung up on a body it refused: what we test
                    self.close_connection = True
                    return
                if "no-length" in headers:
                    self.close_connection = True

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    yield s
    s.stop()


def venue_for(stub: Stub, **options: Any) -> Venue:
    config = VenueConfig(
        private_key=Secret(KEY),
        clob_host=stub.url,
        api_key="00000000-0000-0000-0000-000000000000",
        api_secret=Secret("c2VjcmV0LXNlY3JldC1zZWNyZXQ="),
        api_passphrase=Secret("pass-phrase-value"),
        request_timeout=3.0,
        **options,
    )
    venue = Venue(config)
    venue.connect()
    return venue


def bid(price: str = "0.40") -> OrderRequest:
    return OrderRequest(YES, "BUY", D(price), D("10"), tick_size=D("0.01"), neg_risk=False)


def test_an_oversized_body_is_refused_without_reading_it(stub: Stub) -> None:
    huge = b'{"c": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    stub.routes[("GET", f"/clob-markets/{COND}")] = lambda h, b: answer(200, huge)
    venue = venue_for(stub, rest_max_body_bytes=1024 * 1024)
    try:
        with pytest.raises(VenueError, match="limit"):
            venue.get_market(COND)
    finally:
        venue.disconnect()


def test_an_oversized_body_without_a_length_is_cut_while_reading(stub: Stub) -> None:
    huge = b"[" + b'"x",' * (2 * 1024 * 1024) + b'"x"]'
    stub.routes[("GET", f"/clob-markets/{COND}")] = lambda h, b: answer(200, huge, **{"no-length": "1"})
    venue = venue_for(stub, rest_max_body_bytes=1024 * 1024)
    try:
        with pytest.raises(VenueError, match="limit"):
            venue.get_market(COND)
    finally:
        venue.disconnect()


def test_a_deeply_nested_body_is_a_clean_error(stub: Stub) -> None:
    stub.routes[("GET", f"/clob-markets/{COND}")] = lambda h, b: answer(200, b"[" * 50000 + b"]" * 50000)
    venue = venue_for(stub)
    try:
        with pytest.raises(VenueError, match="nested"):
            venue.get_market(COND)
    finally:
        venue.disconnect()


def test_an_open_order_without_id_is_an_error_for_that_item_only(stub: Stub, caplog) -> None:
    page = {
        "data": [ORDER, {k: v for k, v in ORDER.items() if k != "id"}, {**ORDER, "id": "0x2"}],
        "next_cursor": "LTE=",
    }
    stub.routes[("GET", "/data/orders")] = lambda h, b: answer(200, page)
    venue = venue_for(stub)
    try:
        with caplog.at_level(logging.ERROR):
            orders = venue.get_orders()
    finally:
        venue.disconnect()
    assert [o.id for o in orders] == ["0x1", "0x2"]
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "1 malformed item" in line and "no id" in line


@pytest.mark.parametrize(
    "page",
    [{"data": [ORDER]}, {"next_cursor": "LTE="}, [ORDER], {"data": "x", "next_cursor": "LTE="}],
)
def test_a_malformed_orders_page_is_a_clean_error(stub: Stub, page: Any) -> None:
    stub.routes[("GET", "/data/orders")] = lambda h, b: answer(200, page)
    venue = venue_for(stub)
    try:
        with pytest.raises(VenueError, match="open orders"):
            venue.get_orders()
    finally:
        venue.disconnect()


def test_endless_pagination_is_cut_off(stub: Stub) -> None:
    stub.routes[("GET", "/data/orders")] = lambda h, b: answer(200, {"data": [], "next_cursor": "MTAw"})
    venue = venue_for(stub, max_order_pages=5)
    try:
        with pytest.raises(VenueError, match="pages"):
            venue.get_orders()
    finally:
        venue.disconnect()


@pytest.mark.parametrize("success", ["-1", "NaN", 1, "true"])
def test_only_success_true_places_an_order(stub: Stub, success: object) -> None:
    def post(h: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        items = json.loads(body)
        return answer(200, [{"success": success, "orderID": "0x" + "cd" * 32, "status": "live"} for _ in items])

    stub.routes[("POST", "/orders")] = post
    venue = venue_for(stub)
    try:
        venue.get_market(COND)
        [result] = venue.place_orders([bid()])
    finally:
        venue.disconnect()
    assert not result.placed and not result.ambiguous and result.problem is PlaceProblem.REJECTED


def test_an_order_accepted_under_another_id_is_an_unknown_outcome(stub: Stub) -> None:
    stub.routes[("POST", "/orders")] = lambda h, b: answer(
        200, [{"success": True, "orderID": "0xbad", "status": "live"}]
    )
    venue = venue_for(stub)
    try:
        venue.get_market(COND)
        [result] = venue.place_orders([bid()])
    finally:
        venue.disconnect()
    assert not result.placed and result.ambiguous and result.problem is PlaceProblem.ID_MISMATCH
    assert result.order_id and result.order_id.startswith("0x") and len(result.order_id) == 66, (
        "the signed order's hash"
    )
    assert result.exchange_id == "0xbad" and "0xbad" in result.error


def test_missing_answer_items_are_unknown_outcomes(stub: Stub) -> None:
    stub.routes[("POST", "/orders")] = lambda h, b: answer(200, [])
    venue = venue_for(stub)
    try:
        venue.get_market(COND)
        results = venue.place_orders([bid("0.40"), bid("0.39")])
    finally:
        venue.disconnect()
    assert all(r.ambiguous and r.problem is PlaceProblem.NO_ANSWER and r.order_id for r in results)


def test_error_answers_are_one_short_line_and_never_a_full_body_log(stub: Stub, caplog) -> None:
    noise = "no " * 500_000
    stub.routes[("GET", f"/clob-markets/{COND}")] = lambda h, b: answer(400, {"error": "market is closed. " + noise})
    venue = venue_for(stub, error_body_chars=200)
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(VenueError) as caught:
            venue.get_market(COND)
    finally:
        venue.disconnect()
    message = str(caught.value)
    assert message.startswith("clob-markets: HTTP 400: market is closed.") and len(message) < 260
    assert all(len(r.getMessage()) < 1000 for r in caplog.records), "no full-body log lines"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def cancel_route(stub: Stub) -> list[list[str]]:
    batches: list[list[str]] = []

    def delete(h: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        ids = json.loads(body)
        batches.append(ids)
        # A hostile extra id in the answer must not count as cancelled.
        return answer(200, {"canceled": [*ids, "0xnot-asked-for"], "not_canceled": {}})

    stub.routes[("DELETE", "/orders")] = delete
    return batches


def test_cancels_go_in_chunks_of_up_to_a_thousand_within_the_budget(stub: Stub) -> None:
    batches = cancel_route(stub)
    ids = [f"0x{i:064x}" for i in range(2500)]
    venue = venue_for(stub, cancel_burst=1000.0, cancel_rate=1_000_000.0)
    try:
        result = venue.cancel_orders(ids + ids[:10])  # duplicates are sent once
    finally:
        venue.disconnect()
    assert sorted(len(b) for b in batches) == [500, 1000, 1000]  # chunks are in flight together
    assert result.canceled == tuple(ids) and not result.ambiguous and not result.not_canceled


def test_cancel_chunks_never_exceed_the_cancel_burst(stub: Stub) -> None:
    batches = cancel_route(stub)
    venue = venue_for(stub)  # the standard tier: cancels burst 120
    try:
        venue.budget.cancels.rate = 1_000_000.0  # refill at once: this test is about sizes
        result = venue.cancel_orders([f"0x{i:064x}" for i in range(300)])
    finally:
        venue.disconnect()
    assert sorted(len(b) for b in batches) == [60, 120, 120] and len(result.canceled) == 300


def test_fuzzed_answers_never_escape_the_venue_as_anything_but_venue_errors() -> None:
    from hypothesis import HealthCheck, given, seed, settings
    from hypothesis import strategies as st

    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from(["LTE=", "0.5", "0x1"]),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from([*ORDER, "data", "next_cursor"]), c),
        max_leaves=15,
    )
    stub = Stub()
    current: dict[str, Any] = {}
    stub.routes[("GET", "/data/orders")] = lambda h, b: answer(200, current["body"])
    stub.routes[("POST", "/orders")] = lambda h, b: answer(200, current["body"])
    stub.routes[("DELETE", "/orders")] = lambda h, b: answer(200, current["body"])
    venue = venue_for(stub, max_order_pages=3, order_rate=1e6, cancel_rate=1e6)
    venue.get_market(COND)

    @seed(404)
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(values)
    def run(body: Any) -> None:
        current["body"] = body
        with contextlib.suppress(VenueError):
            venue.get_orders()
        results = venue.place_orders([bid()])  # answers, never raises
        assert len(results) == 1 and (not results[0].placed or results[0].order_id)
        venue.cancel_orders(["0x" + "ab" * 32])

    try:
        run()
    finally:
        venue.disconnect()
        stub.stop()


def test_a_malformed_book_costs_only_that_book(stub: Stub, caplog) -> None:
    def book(token: str, **extra: Any) -> dict[str, Any]:
        return {"asset_id": token, "market": COND, "bids": [{"price": "0.4", "size": "5"}], "asks": [], **extra}

    answer_books = [book(YES), book(NO, bids=[{"price": "NaN", "size": "1"}]), book("999")]
    stub.routes[("POST", "/books")] = lambda h, b: answer(200, answer_books)
    venue = venue_for(stub)
    try:
        with caplog.at_level(logging.ERROR):
            books = venue.get_books([YES, NO])
    finally:
        venue.disconnect()
    assert list(books) == [YES], "the bad book is left out, the one nobody asked for too"
    assert books[YES].book.best_bid == D("0.4")
    assert any("1 malformed book" in r.getMessage() for r in caplog.records)


def test_orders_that_differ_in_post_only_go_in_separate_posts(stub: Stub) -> None:
    posted: list[list[dict[str, Any]]] = []

    def post(h: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        items = json.loads(body)
        posted.append(items)
        return answer(200, [{"success": False, "errorMsg": "not today"} for _ in items])

    stub.routes[("POST", "/orders")] = post
    venue = venue_for(stub)
    try:
        venue.get_market(COND)
        maker, taker = bid("0.40"), replace(bid("0.39"), post_only=False)
        results = venue.place_orders([maker, taker, bid("0.38")])
    finally:
        venue.disconnect()
    assert sorted([item["postOnly"] for item in batch] for batch in posted) == [[False], [True, True]]
    assert [r.request for r in results] == [maker, taker, bid("0.38")], "answers stay in request order"


def test_get_order_not_found_is_none_and_a_malformed_order_an_error(stub: Stub) -> None:
    stub.routes[("GET", "/data/order/0x404")] = lambda h, b: answer(404, {"error": "Order not found"})
    stub.routes[("GET", "/data/order/0x1")] = lambda h, b: answer(200, {**ORDER, "price": "NaN"})
    venue = venue_for(stub)
    try:
        assert venue.get_order("0x404") is None
        with pytest.raises(VenueError, match="open order 0x1 price"):
            venue.get_order("0x1")
    finally:
        venue.disconnect()


def test_heartbeat_rechains_on_the_id_the_exchange_names(stub: Stub) -> None:
    seen: list[str] = []

    def beat(h: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        sent = json.loads(body)["heartbeat_id"]
        seen.append(sent)
        if sent != "hb-expected":
            return answer(400, {"error": "Invalid Heartbeat ID", "heartbeat_id": "hb-expected"})
        return answer(200, {"heartbeat_id": "hb-next"})

    stub.routes[("POST", "/v1/heartbeats")] = beat
    venue = venue_for(stub)
    try:
        assert venue.heartbeat() == "hb-next"
    finally:
        venue.disconnect()
    assert seen == ["", "hb-expected"]


def test_one_markets_open_orders_with_a_bad_item_are_an_error_not_a_short_list(stub: Stub) -> None:
    page = {"data": [ORDER, {k: v for k, v in ORDER.items() if k != "id"}], "next_cursor": "LTE="}
    stub.routes[("GET", "/data/orders")] = lambda h, b: answer(200, page)
    venue = venue_for(stub)
    try:
        with pytest.raises(VenueError, match="incomplete"):
            venue.get_orders(market=ORDER["market"])
        assert not venue.open_orders().complete_for(ORDER["market"])
    finally:
        venue.disconnect()
