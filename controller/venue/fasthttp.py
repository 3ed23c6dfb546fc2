"""A lean keep-alive HTTP/1.1 path for the requote's calls (``POST``/``DELETE /orders``) and balance reads.

Why: profiling the requote showed the official client's per-call overhead (httpx's
request stack, a thread hop onto the venue pool, L2 headers rebuilt from scratch) at
several milliseconds a call on a busy interpreter, against ~1 ms for the emulator's own
work. Here the static L2 headers are built once, each request adds only its timestamp
and HMAC, and a small pool of keep-alive connections (``http11``, the wire format)
stays open, so a request is one ``send`` on the caller's thread. Two requests can be in
flight at once on two connections from one thread: :meth:`Http.begin` sends,
:meth:`Pending.result` reads.

Answers keep the official client's contract (``clob_adapter.answer_or_raise``): decoded
JSON on a 200, ``PolyApiException`` with ``status_code`` otherwise and with no status for
a transport failure, so ``rest`` classifies them exactly as every other call (a failure
after sending is an unknown outcome). Bodies are size-capped while reading. A ``GET``
carries its query after the path; the HMAC covers the path alone, as the official client
signs it. It knows no endpoint's meaning; which calls take this path is the callers'
choice (orders in ``trading``, balances in ``balances``); every other call stays on
py-clob-client-v2.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import select
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from controller.venue import clob_adapter as clob
from controller.venue import http11

ResponseObserver = Callable[[str, str, int, Mapping[str, str]], None]  # method, path, status, headers


class L2Auth:
    """The exchange's L2 headers: the static ones built once, timestamp and HMAC per request."""

    def __init__(
        self, address: str, api_key: str, secret: str, passphrase: str, clock: Callable[[], float] = time.time
    ) -> None:
        # The keyed state is computed once; each request copies it (saves the key schedule).
        self._mac = hmac.new(base64.urlsafe_b64decode(secret), digestmod=hashlib.sha256)
        self._clock = clock
        self._static = {
            "User-Agent": "py_clob_client_v2",
            "Accept": "*/*",
            "Connection": "keep-alive",
            "Content-Type": "application/json",
            "POLY_ADDRESS": address,
            "POLY_API_KEY": api_key,
            "POLY_PASSPHRASE": passphrase,
        }

    def headers(self, method: str, path: str, body: str) -> dict[str, str]:
        timestamp = str(int(self._clock()))
        mac = self._mac.copy()
        # The official client signs the body after replacing ' by " (a no-op for JSON).
        mac.update(f"{timestamp}{method}{path}{body.replace(chr(39), chr(34))}".encode())
        headers = dict(self._static)
        headers["POLY_SIGNATURE"] = base64.urlsafe_b64encode(mac.digest()).decode()
        headers["POLY_TIMESTAMP"] = timestamp
        return headers


class Pending:
    """One request sent on its own connection; :meth:`result` reads the answer (once)."""

    def __init__(self, http: Http, method: str, path: str, conn: http11.Connection | None, error: str) -> None:
        self._http, self.method, self.path = http, method, path
        self._conn, self._error = conn, error
        self.sent_at = time.perf_counter()

    def result(self) -> Any:
        if self._conn is None:
            raise clob.PolyApiException(error_msg=f"request error: {self._error}")
        conn, self._conn = self._conn, None
        limit = self._http.max_body
        try:
            response = conn.read_response(limit, method=self.method)
            body = _inflated(response, limit)
        except http11.BodyTooLarge as exc:
            conn.close()
            size = f"of {exc.declared} bytes " if exc.declared is not None else ""
            raise clob.PolyApiException(error_msg=f"answer {size}over the {limit}-byte limit") from None
        except (OSError, http11.ProtocolError) as exc:
            conn.close()
            raise clob.PolyApiException(error_msg=f"request error: {type(exc).__name__}") from None
        self._http.give_back(conn, response.reusable)
        if self._http.on_response is not None:
            self._http.on_response(self.method, self.path, response.status, response.headers)
        return clob.answer_or_raise(response.status, body, self.method, self.path)


class Http:
    """Keep-alive connections to one exchange host (see the module docstring). Thread-safe."""

    def __init__(
        self,
        base_url: str,
        auth: L2Auth,
        *,
        timeout: float,
        max_body: int,
        on_response: ResponseObserver | None = None,
        max_idle: int = 4,
    ) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._https = url.scheme == "https"
        self._host, self._port = url.hostname, url.port or (443 if self._https else 80)
        self._prefix = url.path.rstrip("/")
        self.auth, self.timeout, self.max_body, self.on_response = auth, timeout, max_body, on_response
        self._max_idle = max_idle
        self._idle: list[http11.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def begin(self, method: str, path: str, body: str, query: str = "") -> Pending:
        """Send one signed request; never raises (a send failure is the Pending's answer).

        ``query`` (already encoded, no ``?``) goes after ``path`` on the wire, outside the HMAC.
        """
        headers = self.auth.headers(method, path, body)
        data: bytes | None = None
        if body or method != "GET":  # a bodiless GET carries no Content-Length, as httpx sends it
            data = body.encode()
            headers["Content-Length"] = str(len(data))
        target = self._prefix + path + (f"?{query}" if query else "")
        conn = self._take()
        try:
            conn.send(method, target, headers, data)
        except OSError as exc:
            conn.close()
            return Pending(self, method, path, None, type(exc).__name__)
        return Pending(self, method, path, conn, "")

    def call(self, method: str, path: str, body: str, query: str = "") -> Any:
        return self.begin(method, path, body, query).result()

    def close(self) -> None:
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        for conn in idle:
            conn.close()

    # -- connections ---------------------------------------------------------------

    def _take(self) -> http11.Connection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect()
            if _still_open(conn):
                return conn
            conn.close()  # the server closed it while idle: never send on a dead socket

    def give_back(self, conn: http11.Connection, reusable: bool) -> None:
        with self._lock:
            if reusable and not self._closed and len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def _connect(self) -> http11.Connection:
        conn = http11.Connection(self._host, self._port, https=self._https, timeout=self.timeout)
        try:
            conn.connect()
        except OSError:
            conn.close()  # send() connects again and reports the failure
        return conn


def _still_open(conn: http11.Connection) -> bool:
    sock = conn.sock
    if sock is None:
        return False
    try:
        # An idle keep-alive socket that is readable has been closed by the peer (or holds
        # bytes nobody asked for): either way it must not carry a request.
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _inflated(response: http11.Response, limit: int) -> bytes:
    """The body, gunzipped if the server encoded it (we ask for identity), within ``limit``."""
    body = response.body
    if (response.headers.get("content-encoding") or "").lower() == "gzip":
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflate.decompress(body, limit + 1)
        except zlib.error:
            raise http11.ProtocolError("a gzip body that does not inflate") from None
        if len(body) > limit or inflate.unconsumed_tail:
            raise http11.BodyTooLarge(limit)
    return body


def lean_path(config: Any, address: str, creds: Any, on_response: ResponseObserver | None) -> Http | None:
    """The lean path for a connected venue (None if the host is not a plain http(s) URL)."""
    try:
        auth = L2Auth(address, creds.api_key, creds.api_secret, creds.api_passphrase)
        return Http(
            config.clob_host,
            auth,
            timeout=config.request_timeout,
            max_body=config.rest_max_body_bytes,
            on_response=on_response,
        )
    except (ValueError, TypeError):
        return None
