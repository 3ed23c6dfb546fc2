"""HTTP/1.1 on one keep-alive socket: write a request, read one response (the lean path's wire).

Why not ``http.client``: its header checks and its response parsing (``email.parser`` for the
headers, a buffered file per response) cost ~0.2 ms a request on a warm CPU and ~0.4 ms
after an idle wake, on a requote measured in single milliseconds (``bench/``). This writes
a request in one ``sendall`` and reads what an exchange answers: 1xx interim answers are
skipped, a body comes by ``Content-Length``, ``chunked`` or, lacking both, up to the close.
Everything read is capped. It says whether the connection may carry another request.

It knows nothing of the exchange's API, auth or error shapes (``fasthttp`` does). A peer
that breaks the protocol is a :class:`ProtocolError`; the connection is then unusable and
its owner closes it.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024  # status line and headers
MAX_LINE_BYTES = 8 * 1024  # one chunk-size or trailer line
_READ_BYTES = 64 * 1024
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")


class ProtocolError(Exception):
    """The peer's bytes are not an HTTP/1.x response we can read (or it closed mid-answer)."""


class BodyTooLarge(ProtocolError):
    """The answer's body is over the caller's limit (``declared``: what Content-Length said)."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        super().__init__(f"body over {limit} bytes")
        self.limit, self.declared = limit, declared


class Headers(Mapping[str, str]):
    """Response headers, looked up without regard to case; repeated ones joined by ", "."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            self._values[key] = f"{self._values[key]}, {value}" if key in self._values else value

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


@dataclass(frozen=True)
class Response:
    status: int
    headers: Headers
    body: bytes  # as sent (still gzip-encoded if the server encoded it)
    reusable: bool  # the connection may carry another request


class Connection:
    """One socket to ``host:port`` (TLS for ``https``), connected on first use."""

    def __init__(self, host: str, port: int, *, https: bool, timeout: float) -> None:
        self.host, self.port, self.https, self.timeout = host, port, https, timeout
        self.sock: socket.socket | None = None
        self._buffer = bytearray()  # read from the socket, not yet consumed
        default_port = 443 if https else 80
        name = f"[{host}]" if ":" in host else host  # an IPv6 literal
        self._host_header = name if port == default_port else f"{name}:{port}"

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        try:
            # One write per request: no Nagle wait behind an unacknowledged one.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.https:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def close(self) -> None:
        sock, self.sock = self.sock, None
        self._buffer.clear()
        if sock is not None:
            sock.close()

    def send(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None) -> None:
        """Write one request (connecting first if needed). Raises OSError, or ValueError for a
        header that would break the request's framing (a CR or LF in it)."""
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}", "Accept-Encoding: identity"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if any("\r" in line or "\n" in line for line in lines):
            raise ValueError("a CR or LF inside the request line or a header")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        self.sock.sendall(data)

    def read_response(self, max_body: int, *, method: str = "GET") -> Response:
        """Read the answer to the request sent last. Raises OSError or ProtocolError."""
        while True:
            version, status, headers = self._read_head()
            if status == 101 or status >= 200:
                break
            # 100 Continue, 103 Early Hints: an interim answer; the real one follows.
        if method == "HEAD" or status in (204, 304):
            body = b""
            by_close = False
        else:
            body, by_close = self._read_body(headers, max_body)
        connection = headers.get("connection", "").lower()
        keep_alive = "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection
        reusable = keep_alive and not by_close and status != 101 and not self._buffer
        return Response(status, headers, body, reusable)

    # -- reading -------------------------------------------------------------------

    def _read_head(self) -> tuple[str, int, Headers]:
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self._buffer) > MAX_HEAD_BYTES:
                raise ProtocolError("the response head is too long")
            self._fill()
        head = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[: end + 4]
        status_line, *header_lines = head.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not (parts[1].isdigit() and len(parts[1]) == 3):
            raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:40]!r}")
        pairs: list[tuple[str, str]] = []
        for line in header_lines:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise ProtocolError("a malformed header line")
            pairs.append((name, value.strip()))
        return parts[0], int(parts[1]), Headers(pairs)

    def _read_body(self, headers: Headers, limit: int) -> tuple[bytes, bool]:
        """The body and whether it ended with the connection (no length given)."""
        coding = headers.get("transfer-encoding", "").lower()
        if coding:
            if coding.rsplit(",", 1)[-1].strip() != "chunked":
                raise ProtocolError(f"unsupported transfer coding: {coding[:40]}")
            return self._read_chunked(limit), False
        declared = headers.get("content-length")
        if declared is not None:
            sizes = {size.strip() for size in declared.split(",")}
            size = sizes.pop() if len(sizes) == 1 else ""
            if not size.isdigit():
                raise ProtocolError("a malformed Content-Length")
            length = int(size)
            if length > limit:
                raise BodyTooLarge(limit, length)
            return self._read_exact(length), False
        body = bytearray(self._buffer)
        self._buffer.clear()
        while len(body) <= limit:
            chunk = self._recv()
            if not chunk:
                return bytes(body), True
            body += chunk
        raise BodyTooLarge(limit)

    def _read_chunked(self, limit: int) -> bytes:
        body = bytearray()
        while True:
            size_field = self._read_line().split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(size_field):
                raise ProtocolError("a malformed chunk size")
            size = int(size_field, 16)
            if size == 0:
                break
            if len(body) + size > limit:
                raise BodyTooLarge(limit)
            body += self._read_exact(size)
            if self._read_exact(2) != b"\r\n":
                raise ProtocolError("a chunk without its CRLF")
        while self._read_line():  # trailers, up to the empty line
            pass
        return bytes(body)

    def _read_line(self) -> bytes:
        while True:
            end = self._buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 2]
                return line
            if len(self._buffer) > MAX_LINE_BYTES:
                raise ProtocolError("a chunk line is too long")
            self._fill()

    def _read_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _fill(self) -> None:
        chunk = self._recv()
        if not chunk:
            raise ProtocolError("the connection closed before the answer was complete")
        self._buffer += chunk

    def _recv(self) -> bytes:
        if self.sock is None:
            raise ProtocolError("not connected")
        return self.sock.recv(_READ_BYTES)
