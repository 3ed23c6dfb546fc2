"""The lean path's HTTP/1.1 wire (controller.venue.http11) against a scripted peer on 127.0.0.1.

The peer answers each request with bytes the test wrote, so every framing an exchange (or
a proxy in front of it) may use is read exactly: Content-Length, chunked, to-the-close,
interim 1xx answers, split across many segments; and every broken one is refused.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.venue import http11


class _Peer:
    """Accepts one connection; for each scripted answer, reads one request head and writes it."""

    def __init__(self, answers: list[bytes], *, chunk: int = 0, close_after: bool = False) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.answers, self.chunk, self.close_after = answers, chunk, close_after
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # the client hung up early (a refused answer)
            self._answer_all()

    def _answer_all(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buffered = b""
            for answer in self.answers:
                while b"\r\n\r\n" not in buffered:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffered += data
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                lines = head.lower().split(b"\r\n")
                length = next((int(x.split(b":")[1]) for x in lines if x.startswith(b"content-length:")), 0)
                while len(buffered) < length:
                    buffered += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + buffered[:length])
                buffered = buffered[length:]
                step = self.chunk or len(answer) or 1
                for start in range(0, len(answer), step):
                    conn.sendall(answer[start : start + step])
            if self.close_after:
                conn.shutdown(socket.SHUT_WR)
            else:  # keep it open until the client hangs up
                conn.recv(1)

    def stop(self) -> None:
        self.thread.join(5)
        self.listener.close()


@pytest.fixture
def peer_factory() -> Iterator[list[_Peer]]:
    peers: list[_Peer] = []
    yield peers
    for peer in peers:
        peer.stop()


def _exchange(
    peers: list[_Peer], answers: list[bytes], *, chunk: int = 0, close_after: bool = False, limit: int = 1 << 16
) -> tuple[list[http11.Response], _Peer]:
    peer = _Peer(answers, chunk=chunk, close_after=close_after)
    peers.append(peer)
    conn = http11.Connection("127.0.0.1", peer.port, https=False, timeout=5.0)
    out = []
    try:
        for _ in answers:
            conn.send("POST", "/orders", {"POLY_API_KEY": "k", "Content-Length": "2"}, b"[]")
            out.append(conn.read_response(limit, method="POST"))
    finally:
        conn.close()
    return out, peer


def test_a_request_is_one_well_formed_write(peer_factory: list[_Peer]) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    (response,), peer = _exchange(peer_factory, [answer])
    assert peer.requests == [
        b"POST /orders HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept-Encoding: identity\r\n"
        b"POLY_API_KEY: k\r\nContent-Length: 2\r\n\r\n[]" % peer.port
    ]
    assert (response.status, response.body, response.reusable) == (200, b"ok", True)


def test_headers_are_looked_up_without_regard_to_case_and_repeats_join(peer_factory: list[_Peer]) -> None:
    answer = b"HTTP/1.1 429 Too Many\r\nretry-after: 3\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n"
    (response,), _ = _exchange(peer_factory, [answer])
    assert response.status == 429 and response.headers.get("Retry-After") == "3"
    assert response.headers["X-A"] == "1, 2" and "RETRY-AFTER" in response.headers


def test_a_chunked_body_with_extensions_and_trailers(peer_factory: list[_Peer]) -> None:
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-T: t\r\n\r\n"
    (response,), _ = _exchange(peer_factory, [answer])
    assert (response.body, response.reusable) == (b"hello!", True)


def test_interim_answers_are_skipped(peer_factory: list[_Peer]) -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1"
    )
    (response,), _ = _exchange(peer_factory, [answer])
    assert (response.status, response.body) == (200, b"1")


def test_no_length_reads_to_the_close_and_the_connection_is_spent(peer_factory: list[_Peer]) -> None:
    (response,), _ = _exchange(peer_factory, [b"HTTP/1.0 200 OK\r\n\r\nall of it"], close_after=True)
    assert (response.body, response.reusable) == (b"all of it", False)


@pytest.mark.parametrize(
    ("head", "reusable"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n", False),
        (b"HTTP/1.0 200 OK\r\n", False),
        (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n", True),
        (b"HTTP/1.1 204 No Content\r\n", True),  # no body at all, whatever the headers
    ],
)
def test_whether_the_connection_may_carry_another_request(
    peer_factory: list[_Peer], head: bytes, reusable: bool
) -> None:
    body = b"" if b" 204 " in head else b"Content-Length: 2\r\n\r\nok"
    (response,), _ = _exchange(peer_factory, [head + (body or b"\r\n")])
    assert response.reusable is reusable


def test_keep_alive_answers_in_a_row_on_one_socket_split_into_single_bytes(peer_factory: list[_Peer]) -> None:
    answers = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n",
        b"HTTP/1.1 400 Bad\r\nContent-Length: 5\r\n\r\nthree",
    ]
    responses, _ = _exchange(peer_factory, answers, chunk=1)
    assert [(r.status, r.body) for r in responses] == [(200, b"one"), (200, b"two"), (400, b"three")]
    assert all(r.reusable for r in responses)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/2 200\r\nContent-Length: 0\r\n\r\n",  # not HTTP/1.x
        b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",  # a two-digit status
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n Folded: x\r\nContent-Length: 0\r\n\r\n",  # obsolete line folding
        b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx",  # disagreeing lengths
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",  # a coding we cannot undo
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",  # no CRLF after the data
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",  # closed mid-body
    ],
)
def test_broken_framing_is_a_protocol_error(peer_factory: list[_Peer], answer: bytes) -> None:
    with pytest.raises(http11.ProtocolError):
        _exchange(peer_factory, [answer], close_after=True)


@pytest.mark.parametrize(
    ("answer", "declared"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n" + b"x" * 11, 11),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nxxxxxx\r\n6\r\nxxxxxx\r\n0\r\n\r\n", None),
        (b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 11, None),
    ],
)
def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(
    peer_factory: list[_Peer], answer: bytes, declared: int | None
) -> None:
    with pytest.raises(http11.BodyTooLarge) as caught:
        _exchange(peer_factory, [answer], close_after=True, limit=10)
    assert caught.value.declared == declared


def test_a_head_that_never_ends_is_refused(peer_factory: list[_Peer]) -> None:
    answer = b"HTTP/1.1 200 OK\r\n" + b"X: " + b"y" * (http11.MAX_HEAD_BYTES + 10)
    with pytest.raises(http11.ProtocolError, match="too long"):
        _exchange(peer_factory, [answer], close_after=True)


@pytest.mark.parametrize("value", ["a\r\nInjected: 1", "a\nb", "a\rb"])
def test_a_header_that_would_break_the_framing_is_never_sent(value: str) -> None:
    conn = http11.Connection("127.0.0.1", 9, https=False, timeout=1.0)  # never connected: refused first
    with pytest.raises(ValueError):
        conn.send("POST", "/orders", {"X": value}, b"")
    assert conn.sock is None


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=300), sizes=st.lists(st.integers(1, 40), min_size=1, max_size=8), chunk=st.integers(0, 7)
)
def test_any_chunking_of_a_body_reads_back_the_same_bytes(body: bytes, sizes: list[int], chunk: int) -> None:
    pieces, start, i = [], 0, 0
    while start < len(body):
        size = sizes[i % len(sizes)]
        pieces.append(b"%x\r\n" % len(body[start : start + size]) + body[start : start + size] + b"\r\n")
        start, i = start + size, i + 1
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(pieces) + b"0\r\n\r\n"
    peers: list[_Peer] = []
    try:
        (response,), _ = _exchange(peers, [answer], chunk=chunk)
    finally:
        for peer in peers:
            peer.stop()
    assert response.body == body and response.reusable


def _lean_call(peers: list[_Peer], answer: bytes) -> object:
    from controller.venue.fasthttp import Http, L2Auth

    peer = _Peer([answer])
    peers.append(peer)
    http = Http(f"http://127.0.0.1:{peer.port}", L2Auth("0xabc", "key", "c2VjcmV0", "pass"), timeout=5.0, max_body=1024)
    try:
        return http.call("POST", "/orders", "[]")
    finally:
        http.close()


def test_a_gzip_body_is_inflated_on_the_lean_path(peer_factory: list[_Peer]) -> None:
    body = gzip.compress(b'{"ok": true}')
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    assert _lean_call(peer_factory, answer) == {"ok": True}


def test_a_gzip_body_that_does_not_inflate_is_a_transport_failure(peer_factory: list[_Peer]) -> None:
    from controller.venue import clob_adapter as clob

    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!"
    with pytest.raises(clob.PolyApiException) as caught:
        _lean_call(peer_factory, answer)
    assert getattr(caught.value, "status_code", None) is None  # an unknown outcome, never a crash
