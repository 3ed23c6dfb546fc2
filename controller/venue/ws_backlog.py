"""Has the market stream received bytes it has not read yet? (the drain before a plan)

A re-quote by another market maker reaches us as a burst of 3-4 book messages a few
hundred microseconds apart; a reconcile that plans after the first one plans on a half
updated book and has to run again. The worker asks this before it plans and lets the
stream thread apply what has already arrived. Reads, never consumes: the stream thread
stays the only reader. Reaches into ``streams.Channel`` and ``websocket-client`` for the
socket (one comment per access); answers False whenever the socket cannot be seen.
"""

from __future__ import annotations

import select
from typing import Any


def unread(streams: Any, channel: str = "market") -> bool:
    """True when the channel's socket holds bytes the stream thread has not read yet."""
    # Internal: Channel._ws is the live WebSocketApp (None between connections).
    app = getattr(getattr(streams, channel, None), "_ws", None)
    # websocket-client: WebSocketApp.sock is its WebSocket, whose .sock is the socket
    # (None until connected). websocket-client reads exactly one frame's bytes at a time,
    # so the kernel buffer holds every later frame.
    sock = getattr(getattr(app, "sock", None), "sock", None)
    if sock is None:
        return False
    try:
        pending = getattr(sock, "pending", None)  # TLS: decrypted bytes already buffered
        if pending is not None and pending():
            return True
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):  # closed meanwhile: nothing more will be read
        return False
    return bool(readable)
