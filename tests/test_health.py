"""controller.ops.health: the probe/status/metrics HTTP server, over real sockets on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from controller.ops.health import BindError, HealthServer, parse_bind
from controller.ops.metrics import Metrics


class Providers:
    """Mutable answers the tests flip between requests."""

    def __init__(self) -> None:
        self.healthy: Any = (True, "reconcile loop ticked 1s ago")
        self.is_ready: Any = (False, "market stream not connected")
        self.doc: Any = {"time": "2026-11-23T12:00:00Z", "ready": False, "streams": {}, "manifests": []}

    def health(self) -> tuple[bool, str]:
        if isinstance(self.healthy, Exception):
            raise self.healthy
        return self.healthy

    def ready(self) -> tuple[bool, str]:
        return self.is_ready

    def status(self) -> dict[str, Any]:
        if isinstance(self.doc, Exception):
            raise self.doc
        return self.doc


@pytest.fixture
def providers() -> Providers:
    return Providers()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def server(providers: Providers, metrics: Metrics) -> Iterator[HealthServer]:
    srv = HealthServer(
        "127.0.0.1",
        0,
        health=providers.health,
        ready=providers.ready,
        status=providers.status,
        metrics=metrics,
        poll_interval=0.01,
    )
    yield srv
    srv.stop()


def request(
    server: HealthServer, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_port_zero_picks_a_free_port(server: HealthServer) -> None:
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"


def test_healthz_follows_the_provider(server: HealthServer, providers: Providers) -> None:
    code, headers, body = request(server, "GET", "/healthz")
    assert code == 200
    assert body == b"healthy: reconcile loop ticked 1s ago\n"
    assert headers["content-type"].startswith("text/plain")
    providers.healthy = (False, "reconcile loop stuck for 95s")
    code, _, body = request(server, "GET", "/healthz")
    assert code == 503
    assert body == b"unhealthy: reconcile loop stuck for 95s\n"
    providers.healthy = (True, "")
    assert request(server, "GET", "/healthz")[:3:2] == (200, b"healthy\n")


def test_readyz_follows_the_provider(server: HealthServer, providers: Providers) -> None:
    code, _, body = request(server, "GET", "/readyz")
    assert (code, body) == (503, b"not ready: market stream not connected\n")
    providers.is_ready = (True, "2 manifests synced")
    code, _, body = request(server, "GET", "/readyz?verbose=1")
    assert (code, body) == (200, b"ready: 2 manifests synced\n")


def test_a_raising_provider_is_a_failing_probe(server: HealthServer, providers: Providers) -> None:
    providers.healthy = RuntimeError("boom")
    code, _, body = request(server, "GET", "/healthz")
    assert code == 503
    assert b"RuntimeError: boom" in body
    providers.healthy = (True, "ok")
    assert request(server, "GET", "/healthz")[0] == 200


def test_probe_messages_are_scrubbed(server: HealthServer, providers: Providers) -> None:
    from controller.ops.redact import register_secret

    secret = "0x" + "5e" * 32
    register_secret(secret)
    providers.healthy = (False, f"venue said: bad key {secret}\nsecond line")
    _, _, body = request(server, "GET", "/healthz")
    assert secret[2:].encode() not in body
    assert b"[REDACTED]" in body
    assert body.count(b"\n") == 1


def test_status_is_json(server: HealthServer, providers: Providers) -> None:
    code, headers, body = request(server, "GET", "/status")
    assert code == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == providers.doc
    providers.doc = ValueError("store locked")
    code, _, body = request(server, "GET", "/status")
    assert code == 500
    assert b"store locked" in body


def test_metrics_exposition(server: HealthServer, metrics: Metrics) -> None:
    metrics.order_placed("demo")
    code, headers, body = request(server, "GET", "/metrics")
    assert code == 200
    assert headers["content-type"] == metrics.content_type
    assert b'bandctl_orders_placed_total{market="demo"} 1.0' in body


def test_head_has_no_body(server: HealthServer) -> None:
    code, headers, body = request(server, "HEAD", "/healthz")
    assert code == 200
    assert body == b""
    assert int(headers["content-length"]) > 0


def test_unknown_path_is_404(server: HealthServer) -> None:
    code, _, body = request(server, "GET", "/admin")
    assert code == 404
    assert b"/healthz" in body


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "BREW"])
def test_other_methods_are_405(server: HealthServer, method: str) -> None:
    code, headers, _ = request(server, method, "/healthz", body=b"{}")
    assert code == 405
    assert headers["allow"] == "GET, HEAD"


def test_post_reaches_only_the_control_actions(server: HealthServer) -> None:
    assert request(server, "POST", "/healthz", body=b"{}")[0] == 404


def _halting_server(host: str, token: str | None, calls: list[dict[str, str]]) -> HealthServer:
    def halt(params: dict[str, str]) -> tuple[int, dict[str, object]]:
        calls.append(params)
        return 200, {"halted": [params.get("name", "*")], "openOrders": 0}

    return HealthServer(host, 0, actions={"/halt": halt}, control_token=token, poll_interval=0.01)


def test_control_actions_on_loopback_need_no_token() -> None:
    calls: list[dict[str, str]] = []
    with _halting_server("127.0.0.1", None, calls) as srv:
        code, _, body = request(srv, "POST", "/halt?name=btc")
    assert code == 200 and json.loads(body) == {"halted": ["btc"], "openOrders": 0}
    assert calls == [{"name": "btc"}]


def test_control_actions_elsewhere_need_the_bearer_token() -> None:
    from controller.ops.health import _ActionGuard

    open_guard = _ActionGuard("0.0.0.0", None)
    assert open_guard.refusal(None) == (
        403,
        "control endpoints are off on a non-loopback address: set BANDCTL_CONTROL_TOKEN",
    )
    guard = _ActionGuard("0.0.0.0", "s3cret")
    assert guard.refusal(None)[0] == 401  # type: ignore[index]
    assert guard.refusal("Bearer wrong")[0] == 401  # type: ignore[index]
    assert guard.refusal("Bearer s3cret") is None
    assert _ActionGuard("::1", None).refusal(None) is None


def test_without_status_or_metrics_those_paths_are_404() -> None:
    with HealthServer("127.0.0.1", 0, poll_interval=0.01) as srv:
        assert request(srv, "GET", "/status")[0] == 404
        assert request(srv, "GET", "/metrics")[0] == 404
        assert request(srv, "GET", "/healthz")[0] == 200  # default providers: always fine
        assert request(srv, "GET", "/readyz")[0] == 200


def raw(server: HealthServer, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\xff\xfe garbage \r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /healthz HTTP/9.9\r\n\r\n",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nContent-Length: nope\r\n" + b"X: y\r\n" * 200 + b"\r\n",
        b"",
    ],
)
def test_garbage_does_not_kill_the_server(
    server: HealthServer, garbage: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = raw(server, garbage)
    assert answer == b"" or answer.startswith(b"HTTP/")
    assert request(server, "GET", "/healthz")[0] == 200
    # Nothing on stderr: errors and access logs go to the "bandctl.http" logger.
    assert capsys.readouterr().err == ""


def test_access_log_goes_to_debug_logger(server: HealthServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="bandctl.http"):
        request(server, "GET", "/readyz")
    records = [r for r in caplog.records if r.name == "bandctl.http" and "/readyz" in r.getMessage()]
    assert records
    assert all(r.levelno == logging.DEBUG for r in records)


def test_stop_releases_the_port(providers: Providers) -> None:
    srv = HealthServer("127.0.0.1", 0, health=providers.health, poll_interval=0.01)
    port = srv.port
    srv.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python build")
    try:
        srv = HealthServer("::1", 0, poll_interval=0.01)
    except OSError as exc:
        pytest.skip(f"IPv6 loopback unavailable: {exc}")
    try:
        assert srv.url == f"http://[::1]:{srv.port}"
        conn = http.client.HTTPConnection("::1", srv.port, timeout=5)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        srv.stop()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0.0:9108", ("0.0.0.0", 9108)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::1]:9108", ("::1", 9108)),
        ("[::]:9108", ("::", 9108)),
        ("localhost:9108", ("localhost", 9108)),
        (":9108", ("0.0.0.0", 9108)),
        (" 127.0.0.1:80 ", ("127.0.0.1", 80)),
    ],
)
def test_parse_bind(text: str, expected: tuple[str, int]) -> None:
    assert parse_bind(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9108", "expected HOST:PORT"),
        ("127.0.0.1:", "is not a number"),
        ("127.0.0.1:http", "is not a number"),
        ("127.0.0.1:70000", "out of range"),
        ("127.0.0.1:-1", "is not a number"),
        ("::1:9108", "brackets"),
        ("[::1]", "[::1]:9108"),
        ("[nope]:9108", "not an IPv6 address"),
    ],
)
def test_parse_bind_errors(text: str, message: str) -> None:
    with pytest.raises(BindError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_bind(text)
    # Usable as an argparse type: its message is printed as is.
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=parse_bind)
    with pytest.raises(SystemExit):
        parser.parse_args(["--http", text])
