"""What-if experiments: patches applied from the benchmark process only, to size proposed optimisations.

None of this is the shipped controller; ``--what-if`` results are labelled as such. It may
not be imported by anything outside bench/.
"""

from __future__ import annotations

import sys
import threading
from decimal import Decimal
from typing import Any

from controller.observe.state import OpenOrder

# --------------------------------------------------------------------------- sessions


WHAT_IFS = ("no-schema", "no-utf8", "debounce", "switch1ms", "fill-race")
WHAT_IF: set[str] = set()  # experiments on top of the shipped controller (benchmark-side patches only)
DEBOUNCE = 0.002


class DebouncedQueue:
    """What-if "debounce": reconciles triggered by the market stream start DEBOUNCE later, so a burst of
    book messages (one re-quote of the house) is applied before planning. Everything else is unchanged."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def add(self, key: str, **options: Any) -> None:
        if threading.current_thread().name == "ws-market":
            self._inner.add_after(key, DEBOUNCE)
        else:
            self._inner.add(key, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __len__(self) -> int:
        return len(self._inner)


def patch_fill_race(store: Any) -> None:
    """What-if "fill-race": the observed store remembers an order it forgot without a fill (a cancel
    answered "not found or already canceled" - it may have just been filled), so that a later
    user-channel MATCHED update for it still moves the balances. The proposed fix, as a patch."""
    forget = store._forget_order
    tombstones: dict[str, tuple[OpenOrder, Decimal]] = {}

    def forget_order(order_id: str, final_matched: Decimal | None) -> None:
        known = store._orders.get(order_id)
        if final_matched is None and known is not None:
            tombstones[order_id] = (known, store._matched_applied.get(order_id, known.size_matched))
        elif final_matched is not None and known is None and order_id in tombstones:
            order, applied = tombstones.pop(order_id)
            store._orders[order_id] = order
            store._matched_applied[order_id] = applied
        forget(order_id, final_matched)

    store._forget_order = forget_order


def apply_process_what_ifs() -> None:
    if "no-utf8" in WHAT_IF:
        # websocket-client validates text frames byte by byte in Python; the strict C decode that
        # follows (bytes.decode("utf-8")) rejects invalid UTF-8 all the same.
        import websocket._abnf as abnf

        abnf.validate_utf8 = lambda utfbytes: True
    if "switch1ms" in WHAT_IF:
        sys.setswitchinterval(0.001)
