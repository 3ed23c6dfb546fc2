"""Synthetic flow (determinism, fills against our quotes, fair-value control) and `bandctl sim`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import yaml
from py_clob_client_v2.clob_types import OrderArgsV2
from sim_helpers import ADDR0, BTC, BTC_YES, KEY0, MARKET_VALIDATOR, RAIN, USER_VALIDATOR, client, quiet_config

from controller.sim import ManualClock, start_sim
from controller.sim.config import demo_yaml_text

START = 1_700_000_000


def flow_config(**overrides):
    cfg = quiet_config(**overrides)
    cfg["flow"] = {"enabled": True, "stepSeconds": 1.0}
    return cfg


def test_same_seed_same_market_events():
    runs = []
    for seed in (7, 7, 8):
        with start_sim(flow_config(), clock=ManualClock(START), seed=seed, record_messages=100_000) as sim:
            sim.step_flow(200)
            msgs = sim.recorded_messages()
            state = sim.admin_state()
        runs.append((msgs, [t["id"] for t in state["trades"]], state["markets"][BTC]["fairValue"]))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]
    msgs, trades, _ = runs[0]
    assert len(trades) > 20  # takers actually trade
    kinds = {m["event_type"] for m in msgs}
    assert {"price_change", "last_trade_price", "book"} <= kinds
    for m in msgs:
        v = USER_VALIDATOR if m["event_type"] in ("order", "trade") else MARKET_VALIDATOR
        assert v.is_valid(m), m


def test_flow_fills_our_quotes_and_fair_value_moves_the_house():
    with start_sim(flow_config(), clock=ManualClock(START), seed=3) as sim:
        c = client(sim.url, KEY0)
        book = c.get_order_book(BTC_YES)
        assert book["bids"] and book["asks"]  # the house quotes around 0.5
        # Quote inside the house spread on both sides: takers will hit us.
        bid = c.create_and_post_order(OrderArgsV2(token_id=BTC_YES, price=0.49, size=50, side="BUY"))["orderID"]
        ask = c.create_and_post_order(OrderArgsV2(token_id=BTC_YES, price=0.51, size=50, side="SELL"))["orderID"]
        sim.advance(120)  # manual clock: 120 flow steps
        filled = [c.get_order(oid)["size_matched"] for oid in (bid, ask)]
        assert any(float(x) > 0 for x in filled), filled
        assert c.get_trades()  # our fills, visible to us
        sim.set_fair_value(BTC, "0.8")
        best_bid = float(c.get_order_book(BTC_YES)["bids"][-1]["price"])
        assert 0.75 <= best_bid < 0.8  # the house followed at once
        assert sim.admin_state()["markets"][BTC]["fairValue"] == 0.8


def test_flow_switchable_per_market():
    cfg = flow_config()
    cfg["markets"][1]["flow"] = {"enabled": False}
    with start_sim(cfg, clock=ManualClock(START), seed=1) as sim:
        sim.step_flow(50)
        state = sim.admin_state()
        assert state["markets"][BTC]["books"]
        assert not state["markets"][RAIN]["books"][cfg["markets"][1]["tokens"]["yes"]]["bids"]
    with start_sim(flow_config(), clock=ManualClock(START), seed=1, flow=False) as sim:
        sim.step_flow(10)
        assert sim.admin_state()["trades"] == []


def test_real_clock_flow_runs_by_itself():
    cfg = flow_config()
    cfg["flow"]["stepSeconds"] = 0.05
    with start_sim(cfg, seed=2) as sim:
        from sim_helpers import wait_for

        wait_for(lambda: sim.admin_state()["flow"]["steps"] >= 5, timeout=10)


def _run_cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "controller", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )


def test_cli_serves_and_stops_on_sigterm(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text(yaml.safe_dump(quiet_config()))
    proc = _run_cli("--port", "0", "--config", str(path), "--seed", "5")
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("bandctl sim listening on http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1]
        assert httpx.get(url + "/version").json() == {"version": 2}
        assert ADDR0.lower() in httpx.get(url + "/admin/state").json()["balances"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_cli_print_config_and_bad_config(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "controller", "sim", "--print-config"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout == demo_yaml_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text("markets: []\n")
    proc = _run_cli("--config", str(bad))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and err.count("\n") == 1 and "markets" in err
