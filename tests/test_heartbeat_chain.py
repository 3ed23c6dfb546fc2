"""The heartbeat chain survives slow answers and an ended chain, and the cadence follows slow beats.

Found by the chaos run: answers 8 s late (the exchange had counted each beat at once) made
every beat time out, so the controller lost the id the chain expected; once the dead man's
switch had ended the chain, every later beat was answered 400 with no id and the chain
never restarted.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from live_helpers import quiet_config

from controller.loop.controller import DEMO_PRIVATE_KEY
from controller.loop.heartbeat import Heartbeat, HeartbeatPolicy
from controller.ops.redact import Secret
from controller.sim import start_sim
from controller.venue.client import Venue, VenueConfig


def _venue(sim: Any, request_timeout: float = 5.0) -> Venue:
    config = VenueConfig(
        private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url, request_timeout=request_timeout
    )
    venue = Venue(config)
    venue.connect()
    return venue


def _faults(sim: Any, faults: dict[str, Any]) -> None:
    import httpx

    httpx.post(sim.url + "/admin/faults", json=faults, timeout=5).raise_for_status()


def test_an_answer_later_than_the_request_timeout_still_carries_the_chain_on() -> None:
    sim = start_sim(quiet_config(), seed=3)
    venue = _venue(sim, request_timeout=0.3)
    try:
        first = venue.heartbeat()
        _faults(sim, {"heartbeatLatencyMs": 800})  # later than every other call may take
        second = venue.heartbeat()
        _faults(sim, {"heartbeatLatencyMs": 0})
        third = venue.heartbeat()
        assert len({first, second, third}) == 3
        assert sim.admin_state()["requests"].get("POST /v1/heartbeats") == 3, "no re-chaining was needed"
    finally:
        venue.disconnect()
        sim.stop()


def test_a_chain_the_exchange_ended_is_restarted() -> None:
    sim = start_sim(quiet_config(), clock="manual", seed=3)
    venue = _venue(sim)
    try:
        venue.heartbeat()
        sim.advance(30)  # the dead man's switch ends the chain
        assert venue.heartbeat_chain() is None
        restarted = venue.heartbeat()
        assert venue.heartbeat() != restarted  # and it chains on from there
    finally:
        venue.disconnect()
        sim.stop()


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now


def test_after_a_slow_beat_the_next_goes_at_once_not_on_the_next_slot() -> None:
    clock = _Clock()
    answer_seconds = iter([8.0, 0.1, 0.1])
    sent_at: list[float] = []

    def send() -> str:
        sent_at.append(clock.now)
        clock.now += next(answer_seconds)
        return "id"

    def wait(seconds: float) -> bool:
        clock.waits.append(seconds)
        clock.now += seconds
        return len(sent_at) >= 3  # stop after the third beat

    heartbeat = Heartbeat(send, lambda: 0.0, HeartbeatPolicy(interval=2.5), clock=clock, wait=wait)
    heartbeat.run()
    assert sent_at == [0.0, 8.0, 10.5]
    assert clock.waits == pytest.approx([0.0, 2.4, 2.4])


def test_an_unexpected_error_does_not_end_the_beating() -> None:
    calls: list[int] = []

    def send() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return "id"

    heartbeat = Heartbeat(send, lambda: 0.0, HeartbeatPolicy(interval=0.0), wait=lambda _s: len(calls) >= 2)
    started = time.monotonic()
    heartbeat.run()
    assert len(calls) == 2 and time.monotonic() - started < 5


def test_the_beating_starts_once_the_account_is_claimed_not_after_the_start_up(tmp_path) -> None:
    from live_helpers import make_controller, wait_for, write_manifest

    sim = start_sim(quiet_config(), seed=3)
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    write_manifest(manifests)
    controller = make_controller(sim, manifests)
    reload = controller.reload

    def slow_reload(*args: Any, **kwargs: Any) -> None:  # a start-up longer than a beat (many markets)
        claimed = sim.admin_state()["requests"].get("POST /v1/heartbeats", 0)
        wait_for(
            lambda: sim.admin_state()["requests"].get("POST /v1/heartbeats", 0) > claimed,
            "a heartbeat while the start-up is still reading",
            timeout=10,
        )
        reload(*args, **kwargs)

    controller.reload = slow_reload  # type: ignore[method-assign]
    try:
        controller.start()
    finally:
        controller.stop()
        sim.stop()
