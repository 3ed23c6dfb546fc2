"""The controller's HTTP port: ``/healthz``, ``/readyz``, ``/status`` and ``/metrics``.

The server knows nothing about the controller: it is handed callables (providers) and
calls them per request. ``health()`` and ``ready()`` return ``(ok, message)``; ``status()``
returns the ``/status`` document; ``metrics`` renders the Prometheus exposition.

- ``/healthz`` (liveness): is the process working at all (e.g. the reconcile loop
  ticked recently)? A failing liveness probe restarts the pod, so it should only fail
  when a restart would help.
- ``/readyz`` (readiness): is it doing its job now (streams connected, manifests synced)?

- ``POST /halt`` and ``POST /resume`` (``?name=NAME`` or ``?all=1``): the kill switch, for
  ``bandctl halt``/``resume`` and scripts. Bound to loopback they need nothing more; bound
  anywhere else they need ``Authorization: Bearer $BANDCTL_CONTROL_TOKEN`` (and are
  refused when that variable is unset), while the read-only endpoints stay open.

A provider that raises is answered as failing (503 for probes, 500 for ``/status``)
rather than crashing the handler thread. Access logs go to ``bandctl.http`` at DEBUG:
probes every few seconds would otherwise drown the real logs.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import json
import logging
import socket
import threading
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from controller.ops.redact import scrub

log = logging.getLogger("bandctl.http")

Probe = Callable[[], tuple[bool, str]]
StatusProvider = Callable[[], dict[str, Any]]
# POST /<name>?query -> (HTTP status, JSON document); the query as a flat dict.
Action = Callable[[dict[str, str]], tuple[int, dict[str, Any]]]
_MAX_POST_BODY = 4096


class MetricsSource(Protocol):
    content_type: str

    def render(self) -> bytes: ...


class BindError(argparse.ArgumentTypeError, ValueError):
    """A bad ``HOST:PORT`` (an ``ArgumentTypeError`` so argparse prints it as is)."""


def parse_bind(text: str) -> tuple[str, int]:
    """``0.0.0.0:9108``, ``127.0.0.1:0``, ``[::1]:9108``, ``localhost:9108`` or ``:9108`` (all
    IPv4 interfaces) → ``(host, port)``. Port 0 asks the kernel for a free port."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise BindError(f"invalid address {text!r}: write an IPv6 host as [::1]:9108")
        port_text = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise BindError(f"invalid address {text!r}: {host!r} is not an IPv6 address") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise BindError(f"invalid address {text!r}: expected HOST:PORT, e.g. 0.0.0.0:9108")
        if ":" in host:
            raise BindError(f"invalid address {text!r}: write an IPv6 host in brackets, e.g. [::1]:9108")
        host = host or "0.0.0.0"  # ":9108" means every interface, as in Go
    if not port_text.isdigit():
        raise BindError(f"invalid address {text!r}: port {port_text!r} is not a number")
    port = int(port_text)
    if port > 65535:
        raise BindError(f"invalid address {text!r}: port {port} is out of range 0-65535")
    return host, port


def _ok() -> tuple[bool, str]:
    return True, "ok"


class HealthServer:
    """A small threaded HTTP server in a daemon thread; starts serving in the constructor."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        health: Probe = _ok,
        ready: Probe = _ok,
        status: StatusProvider | None = None,
        metrics: MetricsSource | None = None,
        actions: dict[str, Action] | None = None,
        control_token: str | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        guard = _ActionGuard(host, control_token)
        app = _App(health, ready, status, metrics, actions or {}, guard)
        handler = type("_BoundHandler", (_Handler,), {"app": app})
        server_class = _IPv6Server if ":" in host else _Server
        self._server = server_class((host, port), handler)
        self.host = host
        self.port: int = self._server.server_address[1]
        # poll_interval bounds how long stop() waits for the serving loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(poll_interval,), name="bandctl-http", daemon=True
        )
        self._thread.start()
        log.info("serving /healthz /readyz /status /metrics on %s", self.url)

    @property
    def url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)

    def __enter__(self) -> HealthServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Restarted pods re-bind the same port at once.
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; a broken client is not our error.
        log.debug("error serving %s", client_address, exc_info=True)


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class _ActionGuard:
    """Who may call the endpoints that change things: anyone on loopback, else a bearer token."""

    def __init__(self, host: str, token: str | None) -> None:
        self.loopback = _is_loopback(host)
        self.token = token or None

    def refusal(self, authorization: str | None) -> tuple[int, str] | None:
        if self.loopback:
            return None
        if self.token is None:
            return 403, "control endpoints are off on a non-loopback address: set BANDCTL_CONTROL_TOKEN"
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            return 401, "a bearer token (BANDCTL_CONTROL_TOKEN) is required"
        return None


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _App:
    def __init__(
        self,
        health: Probe,
        ready: Probe,
        status: StatusProvider | None,
        metrics: MetricsSource | None,
        actions: dict[str, Action],
        guard: _ActionGuard,
    ) -> None:
        self.health, self.ready, self.status, self.metrics = health, ready, status, metrics
        self.actions, self.guard = actions, guard

    def act(self, target: str, authorization: str | None) -> tuple[int, str, bytes]:
        """``(code, content type, body)`` for a POST of ``target``."""
        path, _, query = target.partition("?")
        action = self.actions.get(path)
        if action is None:
            return 404, _TEXT, b"not found\n"
        refused = self.guard.refusal(authorization)
        if refused is not None:
            return refused[0], _TEXT, f"{refused[1]}\n".encode()
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
        try:
            code, document = action(params)
        except Exception as exc:
            log.warning("%s failed: %s", path, scrub(str(exc)), exc_info=True)
            return 500, _TEXT, f"{path} failed: {scrub(str(exc))[:200]}\n".encode()
        return code, "application/json", json.dumps(document, default=str).encode()

    def route(self, path: str) -> tuple[int, str, bytes]:
        """``(code, content type, body)`` for a GET of ``path``."""
        path = path.split("?", 1)[0]
        if path == "/healthz":
            return _probe(self.health, "healthy", "unhealthy")
        if path == "/readyz":
            return _probe(self.ready, "ready", "not ready")
        if path == "/status" and self.status is not None:
            try:
                body = json.dumps(self.status(), default=str).encode()
            except Exception as exc:
                log.warning("/status failed: %s", scrub(str(exc)), exc_info=True)
                return 500, _TEXT, f"status unavailable: {scrub(str(exc))[:200]}\n".encode()
            return 200, "application/json", body
        if path == "/metrics" and self.metrics is not None:
            return 200, self.metrics.content_type, self.metrics.render()
        return 404, _TEXT, b"not found: try /healthz, /readyz, /status or /metrics\n"


_TEXT = "text/plain; charset=utf-8"


def _probe(provider: Probe, good: str, bad: str) -> tuple[int, str, bytes]:
    try:
        ok, message = provider()
    except Exception as exc:
        log.warning("probe failed: %s", scrub(str(exc)), exc_info=True)
        ok, message = False, f"check raised {type(exc).__name__}: {exc}"
    # Messages may quote exchange errors: scrub, keep short, one line.
    message = scrub(" ".join(str(message).split()))[:300]
    text = f"{good if ok else bad}: {message}\n" if message else f"{good if ok else bad}\n"
    return (200 if ok else 503), _TEXT, text.encode()


class _Handler(BaseHTTPRequestHandler):
    app: _App
    server_version = "bandctl"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    # A client that connects and says nothing must not hold a thread for ever.
    timeout = 10
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > _MAX_POST_BODY:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        self.rfile.read(int(length))  # the query says it all; the body is read and dropped
        try:
            code, content_type, body = self.app.act(self.path, self.headers.get("Authorization"))
        except Exception:
            log.exception("HTTP handler failed for POST %s", self.path[:200])
            code, content_type, body = 500, _TEXT, b"internal error\n"
        self._send(code, content_type, body, head=False)

    def _respond(self, head: bool) -> None:
        try:
            code, content_type, body = self.app.route(self.path)
        except Exception:
            log.exception("HTTP handler failed for %s", self.path[:200])
            code, content_type, body = 500, _TEXT, b"internal error\n"
        self._send(code, content_type, body, head)

    def _send(self, code: int, content_type: str, body: bytes, head: bool) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # A malformed request line leaves the version at HTTP/0.9, which answers with a
        # bare body; answer garbage with a proper status line and close instead.
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        self.close_connection = True
        super().send_error(code, message, explain)

    def _not_allowed(self) -> None:
        body = b"method not allowed: use GET\n"
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Type", _TEXT)
        self.send_header("Content-Length", str(len(body)))
        # The request body (if any) is not read: close rather than misparse it as the next request.
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler dispatches to do_<METHOD> and answers 501 when missing;
        # every method but GET, HEAD and POST is a 405 here (PUT, DELETE, made-up ones).
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)
