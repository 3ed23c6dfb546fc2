"""Balance reads on the lean HTTP path: the same figures as the official client's, the same
checks on hostile answers, the same outcome classes; against the emulator and a stub."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from live_helpers import BTC_NO, BTC_YES, quiet_config
from local_http import LocalHTTP, QuietHandler

from controller.loop.controller import DEMO_PRIVATE_KEY
from controller.ops.redact import Secret
from controller.sim import start_sim
from controller.venue import balances
from controller.venue.client import Venue, VenueConfig
from controller.venue.errors import Ambiguous, RateLimited, VenueError
from controller.venue.fasthttp import Http, L2Auth

SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def test_against_the_emulator_the_lean_reads_equal_the_clients_and_are_reported() -> None:
    with start_sim(quiet_config(), clock="manual", flow=False) as sim:
        venue = Venue(VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url))
        venue.connect()
        try:
            assert venue.http is not None
            seen: list[tuple[str, int | str]] = []
            venue.on_request = lambda endpoint, seconds, outcome: seen.append((endpoint, outcome))
            sent: list[str] = []
            begin = venue.http.begin

            def counting(method: str, path: str, body: str, query: str = "") -> Any:
                sent.append(path)
                return begin(method, path, body, query)

            venue.http.begin = counting  # type: ignore[method-assign]
            tokens = [BTC_YES, BTC_NO] * 3 + [BTC_YES]  # more than one window, repeats included
            lean = venue.get_balances(tokens)
            assert sent == ["/balance-allowance"] * (len(tokens) + 1)
            assert seen == [("balance-allowance", 200)] * (len(tokens) + 1)
            venue.http.begin = begin  # type: ignore[method-assign]
            http, venue.http = venue.http, None
            through_client = venue.get_balances(tokens)
            venue.http = http
            assert lean == through_client
            assert lean.collateral > 0 and set(lean.tokens) == {BTC_YES, BTC_NO}
        finally:
            venue.disconnect()


class _Stub:
    """Answers ``GET /balance-allowance`` with ``answers[token_id or "collateral"]`` (status, body)."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        stub = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                stub.requests.append((url.path, query, dict(self.headers)))
                token = query.get("token_id", ["collateral"])[0]
                status, body = stub.answers.get(token, (200, b'{"balance": "1000000"}'))
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.served = LocalHTTP(Handler)
        self.url = self.served.url

    def stop(self) -> None:
        self.served.stop()


@pytest.fixture
def stub() -> Iterator[_Stub]:
    server = _Stub()
    yield server
    server.stop()


@pytest.fixture
def venue(stub: _Stub) -> Iterator[Venue]:
    venue = Venue(VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=stub.url, request_timeout=2.0))
    # What balance_request and disconnect read of the official client.
    venue._client = SimpleNamespace(builder=SimpleNamespace(signature_type=2), get_address=lambda: "0xabc")
    venue.http = Http(stub.url, L2Auth("0xabc", "key", SECRET, "pass"), timeout=2.0, max_body=4096)
    yield venue
    venue.http.close()
    venue.disconnect()


def test_the_request_is_the_libraries_signed_over_the_path_alone(stub: _Stub, venue: Venue) -> None:
    stub.answers["7"] = (200, b'{"balance": "2500000", "allowances": {}}')
    result = venue.get_balances(["7"])
    assert result.collateral == Decimal(1) and result.tokens == {"7": Decimal("2.5")}
    # Both were in flight at once: the stub may have taken them in either order.
    (path0, query0, _), (path1, query1, headers) = sorted(stub.requests, key=lambda r: "token_id" in r[1])
    assert path0 == path1 == "/balance-allowance"
    assert query0 == {"signature_type": ["2"], "asset_type": ["COLLATERAL"]}
    assert query1 == {"signature_type": ["2"], "asset_type": ["CONDITIONAL"], "token_id": ["7"]}
    assert "Content-Length" not in headers
    mac = hmac.new(
        base64.urlsafe_b64decode(SECRET), f"{headers['POLY_TIMESTAMP']}GET/balance-allowance".encode(), hashlib.sha256
    )
    assert headers["POLY_SIGNATURE"] == base64.urlsafe_b64encode(mac.digest()).decode()
    assert headers["POLY_API_KEY"] == "key" and headers["POLY_PASSPHRASE"] == "pass"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"balance": "-1"}', "must not be negative"),
        (b'{"balance": "lots"}', "5 balance"),
        (b'{"balance": NaN}', "5 balance"),
        (b'{"balance": "Infinity"}', "5 balance"),
        (b"{}", "5 balance"),
        (b"[1, 2]", "5 balance"),
        (b"not json at all", "5 balance"),
        (b'{"balance": ' + b"[" * 100 + b"]" * 100 + b"}", "balance-allowance"),
        (b"x" * 5000, "balance-allowance"),  # over the body cap
    ],
)
def test_a_hostile_answer_is_a_clear_error_and_the_next_read_works(
    stub: _Stub, venue: Venue, body: bytes, words: str
) -> None:
    stub.answers["5"] = (200, body)
    with pytest.raises(VenueError) as raised:
        venue.get_balances(["4", "5", "6"])
    assert words in str(raised.value) and "\n" not in str(raised.value)
    del stub.answers["5"]
    assert venue.get_balances(["4", "5", "6"]).tokens == {t: Decimal(1) for t in ("4", "5", "6")}


@pytest.mark.parametrize(
    ("status", "kind"), [(429, RateLimited), (500, Ambiguous), (503, Ambiguous), (401, VenueError)]
)
def test_statuses_are_classified_as_on_every_call(stub: _Stub, venue: Venue, status: int, kind: type) -> None:
    stub.answers["3"] = (status, json.dumps({"error": "nope"}).encode())
    seen: list[Any] = []
    venue.on_request = lambda endpoint, seconds, outcome: seen.append((endpoint, outcome))
    with pytest.raises(kind) as raised:
        venue.get_balances(["1", "2", "3", "4", "5", "6"])
    assert "balance-allowance" in str(raised.value) and "nope" in str(raised.value)
    assert ("balance-allowance", status) in seen
    # Every read of the failing window was read off its connection: the next call works.
    del stub.answers["3"]
    assert len(venue.get_balances(["1", "2", "3"]).tokens) == 3


def test_nobody_listening_is_an_unknown_outcome(venue: Venue) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    assert venue.http is not None
    venue.http.close()
    venue.http = Http(f"http://127.0.0.1:{port}", L2Auth("0xabc", "key", SECRET, "pass"), timeout=2.0, max_body=4096)
    with pytest.raises(Ambiguous, match="balance-allowance: transport error"):
        balances.get_balances(venue, ["1"])
