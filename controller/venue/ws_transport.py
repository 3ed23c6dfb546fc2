"""A hard ceiling on WebSocket message size inside ``websocket-client``, before it buffers;
and a close that does not wait for its read loop's timeout.

``websocket-client`` reads a frame's declared length and then allocates and reads that
many bytes, and joins continuation frames without limit: a peer can make it hold a
gigabyte before our decoder ever sees the message (``wire_ws`` caps what it decodes, too
late for memory). This module makes an oversized frame or message a protocol error as
soon as its length is known: the connection drops and the stream reconnects. And it
closes a connection from its own read loop (see ``close_from_reader``). It is the
only place that touches ``websocket-client`` internals (one comment per access) and it
knows nothing about Polymarket.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress
from typing import Any

from websocket import _abnf
from websocket._exceptions import WebSocketPayloadException

_lock = threading.Lock()
_ceiling = 64 * 1024 * 1024
_installed = False


def ceiling() -> int:
    return _ceiling


def raise_ceiling(max_bytes: int) -> None:
    """Allow messages up to ``max_bytes`` (process-wide: the largest any channel needs)."""
    global _ceiling
    with _lock:
        _ceiling = max(_ceiling if _installed else 0, max_bytes)
    install()


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        # Internal: frame_buffer.recv_length parses the declared payload length of a frame;
        # recv_frame reads that many bytes right after it.
        original_length = _abnf.frame_buffer.recv_length
        # Internal: continuous_frame.add joins the fragments of one message.
        original_add = _abnf.continuous_frame.add

        def recv_length(self: Any) -> None:
            original_length(self)
            if self.length is not None and self.length > _ceiling:
                raise WebSocketPayloadException(f"frame of {self.length} bytes is over the {_ceiling}-byte limit")

        def add(self: Any, frame: Any) -> None:
            original_add(self, frame)
            if self.cont_data and len(self.cont_data[1]) > _ceiling:
                self.cont_data, self.recving_frames = None, None
                raise WebSocketPayloadException(f"message over the {_ceiling}-byte limit")

        setattr(_abnf.frame_buffer, "recv_length", recv_length)  # noqa: B010 - patching a method
        setattr(_abnf.continuous_frame, "add", add)  # noqa: B010
        _installed = True


def close_from_reader(app: Any) -> bool:
    """Have ``app``'s own read loop close the connection, now; False when it has no open socket.

    Closing from another thread (``WebSocketApp.close``) shuts the socket and closes its
    descriptor at once: the reader's select can lose that wake-up (a closed descriptor
    leaves the poll set) and then sleeps its whole timeout, up to 2 s a channel. Shutting
    only the read side wakes it for sure, and it sends the close frame as it tears down.
    """
    # Internal: WebSocketApp.sock is the WebSocket, whose .sock is the socket.socket.
    raw = getattr(getattr(app, "sock", None), "sock", None)
    if not isinstance(raw, socket.socket):
        return False
    # Internal: the flag run_forever's read loop checks before every read.
    app.keep_running = False
    with suppress(OSError):
        # The plain socket's shutdown even on a TLS socket: SSLSocket.shutdown drops the TLS
        # layer, and the close frame would then go out unencrypted.
        socket.socket.shutdown(raw, socket.SHUT_RD)
    return True
