"""The lean HTTP path of the requote: the exchange's L2 headers, keep-alive that survives an
idle close, and transport failures that stay unknown outcomes (a stub on 127.0.0.1)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from local_http import LocalHTTP, QuietHandler

from controller.venue import clob_adapter as clob
from controller.venue.fasthttp import Http, L2Auth

SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def test_l2_signature_matches_the_protocol_vectors() -> None:
    auth = L2Auth("0xabc", "key", SECRET, "pass", clock=lambda: 1000000)
    assert auth.headers("test-sign", "/orders", '{"hash": "0x123"}')["POLY_SIGNATURE"] == (
        "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="
    )
    auth = L2Auth("0xabc", "key", SECRET, "pass", clock=lambda: 1700000000)
    headers = auth.headers("POST", "/v1/heartbeats", '{"heartbeat_id":""}')
    assert headers["POLY_SIGNATURE"] == "-PUdMuGD63fwGrjfWWDTMme64hsoU-TNjWB7GroYNmo="
    assert headers["POLY_TIMESTAMP"] == "1700000000" and headers["POLY_API_KEY"] == "key"
    assert headers["POLY_PASSPHRASE"] == "pass" and headers["POLY_ADDRESS"] == "0xabc"


class _Server:
    def __init__(self) -> None:
        self.connections = 0  # accepted so far (ids of closed sockets may be reused)
        self.lock = threading.Lock()
        self.close_after_answer = False
        self.hang_up = False  # read the request, then close without an answer
        self.status = 200
        server = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with server.lock:
                    server.connections += 1

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if server.hang_up:
                    self.close_connection = True
                    return
                data = json.dumps({"echo": json.loads(body), "sig": self.headers.get("POLY_SIGNATURE")}).encode()
                self.send_response(server.status)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                # Closes without saying so: the client sees a keep-alive answer.
                self.close_connection = server.close_after_answer

            do_DELETE = do_POST

        self.served = LocalHTTP(Handler)
        self.url = self.served.url

    def stop(self) -> None:
        self.served.stop()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.stop()


def _client(url: str) -> Http:
    return Http(url, L2Auth("0xabc", "key", SECRET, "pass"), timeout=3.0, max_body=1024)


def test_requests_reuse_one_connection(server: _Server) -> None:
    http = _client(server.url)
    try:
        answers = [http.call("POST", "/orders", json.dumps([i])) for i in range(5)]
    finally:
        http.close()
    assert [a["echo"] for a in answers] == [[i] for i in range(5)]
    assert server.connections == 1


def test_a_connection_the_server_closed_while_idle_is_never_used(server: _Server) -> None:
    server.close_after_answer = True
    http = _client(server.url)
    try:
        first = http.call("POST", "/orders", "[1]")
        # Poll (with a deadline) until the server's close has reached our idle socket.
        deadline = time.monotonic() + 5.0
        while not _peer_closed(http) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert _peer_closed(http)
        second = http.call("POST", "/orders", "[2]")
    finally:
        http.close()
    assert first["echo"] == [1] and second["echo"] == [2]
    assert server.connections == 2


def _peer_closed(http: Http) -> bool:
    from controller.venue.fasthttp import _still_open

    return bool(http._idle) and not _still_open(http._idle[-1])


def test_two_requests_in_flight_from_one_thread(server: _Server) -> None:
    http = _client(server.url)
    try:
        a = http.begin("DELETE", "/orders", '["0x1"]')
        b = http.begin("POST", "/orders", '["0x2"]')
        assert b.result()["echo"] == ["0x2"] and a.result()["echo"] == ["0x1"]
    finally:
        http.close()
    assert server.connections == 2


def test_errors_keep_the_clients_contract(server: _Server) -> None:
    server.status = 400
    http = _client(server.url)
    try:
        with pytest.raises(clob.PolyApiException) as caught:
            http.call("POST", "/orders", "[1]")
    finally:
        http.close()
    assert caught.value.status_code == 400


def test_nobody_listening_is_a_transport_failure_without_status() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    http = _client(f"http://127.0.0.1:{port}")
    with pytest.raises(clob.PolyApiException) as caught:
        http.call("POST", "/orders", "[1]")
    assert getattr(caught.value, "status_code", None) is None  # classified as an unknown outcome


def test_an_oversized_answer_is_refused(server: _Server) -> None:
    http = Http(server.url, L2Auth("0xabc", "key", SECRET, "pass"), timeout=3.0, max_body=10)
    with pytest.raises(clob.PolyApiException, match="limit"):
        http.call("POST", "/orders", json.dumps(["x" * 50]))
    http.close()


def test_a_request_the_server_read_but_never_answered_is_an_unknown_outcome(server: _Server) -> None:
    from controller.venue import rest
    from controller.venue.errors import Ambiguous
    from controller.venue.inflight import INLINE

    server.hang_up = True
    http = _client(server.url)
    try:
        pending = http.begin("POST", "/orders", "[1]")
        with pytest.raises(Ambiguous):
            rest.call(INLINE, "post-orders", pending.result, (), 5.0, None)
    finally:
        http.close()
