"""Hostile WebSocket frames at the edge: the stream handler never raises, never crashes the
process, counts what it drops and logs a rate-limited summary instead of a line per frame."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap

from fakeclock import FakeClock
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from controller.venue.streams import Channel
from controller.venue.wire_ws import BookEvent, FrameLimits

YES = "111"


def channel(clock: FakeClock | None = None, **kwargs: object) -> tuple[Channel, list]:
    got: list = []
    ch = Channel(
        "market",
        "ws://127.0.0.1:9/ws/market",
        initial_message=lambda: None,
        on_typed=lambda name, event: got.append(event),
        clock=clock or FakeClock(),
        **kwargs,  # type: ignore[arg-type]
    )
    return ch, got


def book_frame() -> str:
    level = {"price": "0.5", "size": "1"}
    return json.dumps({"event_type": "book", "asset_id": YES, "market": "0xm", "bids": [level], "asks": []})


def test_importing_the_venue_restores_a_sane_recursion_limit() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import sys, controller.venue.client; print(sys.getrecursionlimit())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(out.stdout) <= 1000, "py_ecc's setrecursionlimit(100000) must not survive the import"


def test_a_deeply_nested_frame_on_the_stream_thread_does_not_kill_the_process() -> None:
    # In a child process: a SIGSEGV there is a failed assertion here, not a dead test run.
    script = textwrap.dedent(
        """
        import sys, threading
        import controller.venue.client  # imports py_ecc (which raises the limit), then restores it
        sys.setrecursionlimit(100000)  # and even if something raised it again later
        from controller.venue.streams import Channel
        ch = Channel("market", "ws://127.0.0.1:9", initial_message=lambda: None)
        frames = ["[" * 100000 + "]" * 100000, '{"a":' * 50000 + "1" + "}" * 50000]
        t = threading.Thread(target=lambda: [ch._handle_message(None, f) for f in frames])
        t.start(); t.join()
        print(ch.rejected)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.strip() == "2"


def test_oversized_frames_are_dropped_before_decoding() -> None:
    ch, got = channel(limits=FrameLimits(max_bytes=64, max_depth=32))
    ch._handle_message(None, book_frame())
    assert got == [] and ch.rejects.totals() == {"too_large": 1}
    roomy, got = channel(limits=FrameLimits(max_bytes=4096, max_depth=32))
    roomy._handle_message(None, book_frame())
    assert len(got) == 1 and isinstance(got[0], BookEvent)


def test_bad_frames_are_summarised_not_logged_one_by_one(caplog) -> None:
    clock = FakeClock(100.0)
    ch, _ = channel(clock)
    with caplog.at_level(logging.WARNING, logger="bandctl.streams"):
        for _ in range(1000):
            ch._handle_message(None, "[" * 100 + "]" * 100)
            ch._handle_message(None, '{"event_type": "book", "asset_id": "x"}')
        first = [r for r in caplog.records if "dropped" in r.getMessage()]
        assert len(first) == 1, "one summary line at once, then silence until the interval has passed"
        clock.t += 10.0
        ch._handle_message(None, "not json")
        lines = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(lines) == 2
    assert "too_deep=999" in lines[1] and "malformed=1000" in lines[1] and "not_json=1" in lines[1]
    assert ch.rejected == 2001 and ch.rejects.totals() == {"too_deep": 1000, "malformed": 1000, "not_json": 1}


def test_a_failing_handler_is_counted_and_the_stream_goes_on() -> None:
    def boom(name: str, event: object) -> None:
        raise RecursionError("handler bug")

    ch = Channel("market", "ws://127.0.0.1:9", initial_message=lambda: None, on_typed=boom, clock=FakeClock())
    ch._handle_message(None, book_frame())
    ch._handle_message(None, book_frame())
    assert ch.handler_errors == 2 and ch.messages == 2


frames = st.one_of(
    st.text(alphabet='[]{}",:0123456789.-eE truefalsn\\', max_size=400),
    st.binary(max_size=300),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=6),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(["event_type", "bids", "x"]), c),
        max_leaves=40,
    ).map(json.dumps),
    st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=1, max_value=3000).map(lambda n: '{"a":' * n + "0" + "}" * n),
)


@seed(40000)
@settings(max_examples=500, deadline=None)
@given(st.lists(frames, min_size=1, max_size=5))
def test_fuzzed_frames_never_escape_the_handler(batch: list) -> None:
    ch, _ = channel(limits=FrameLimits(max_bytes=20_000, max_depth=32))
    for frame in batch:
        ch._handle_message(None, frame)  # must not raise
    assert ch.rejected + ch.messages >= 0


def test_the_market_frame_cap_grows_with_the_subscription() -> None:
    from types import SimpleNamespace

    from controller.venue.streams import Streams

    creds = SimpleNamespace(api_key="k", api_secret="s", api_passphrase="p")
    streams = Streams(
        "ws://127.0.0.1:9", creds=creds, limits=FrameLimits(max_bytes=2000, max_depth=8), frame_bytes_per_token=1000
    )
    streams.set_subscriptions([str(i) for i in range(10)], [])
    assert streams.market.limits == FrameLimits(max_bytes=10_000, max_depth=8), "the initial dump holds every book"
    streams.set_subscriptions(["1"], [])
    assert streams.market.limits.max_bytes == 2000 and streams.user.limits.max_bytes == 2000


def test_a_frame_echoing_a_secret_never_puts_it_in_the_log(caplog) -> None:
    from controller.ops.redact import Secret

    passphrase = "an-api-passphrase-value"
    Secret(passphrase)  # registered for scrubbing, as the venue does with its credentials
    ch, _ = channel()
    with caplog.at_level(logging.WARNING, logger="bandctl.streams"):
        ch._handle_message(None, json.dumps({"event_type": "book", "asset_id": passphrase, "bids": [], "asks": []}))
    assert ch.rejected == 1 and caplog.records
    assert all(passphrase not in r.getMessage() for r in caplog.records)
