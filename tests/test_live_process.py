"""The real `bandctl run` process against the emulator: signals, the dead man's switch,
the health server and `bandctl status`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from live_helpers import DEMO_ADDRESS, converged, our_orders, wait_for, write_manifest

from controller.cli.main import main
from controller.loop.controller import DEMO_PRIVATE_KEY


def venue_env(sim) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOB_", "SENTRY_"))}
    env.update(CLOB_HOST=sim.url, WS_HOST=sim.ws_url, PRIV_KEY=DEMO_PRIVATE_KEY, PYTHONUNBUFFERED="1")
    return env


def image_command(manifests: Path) -> list[str]:
    """The container's ENTRYPOINT + CMD from the Dockerfile, with the manifests mount and the
    bind address swapped for this machine's (port 9108 may be taken; 0 picks a free one)."""
    text = (Path(__file__).resolve().parent.parent / "Dockerfile").read_text()
    exec_form = {m.group(1): json.loads(m.group(2)) for m in re.finditer(r"^(ENTRYPOINT|CMD) (\[.*\])$", text, re.M)}
    command = [str(Path(sys.executable).parent / exec_form["ENTRYPOINT"][0]), *exec_form["ENTRYPOINT"][1:]]
    swaps = {"/manifests": str(manifests), "0.0.0.0:9108": "127.0.0.1:0", "/state": str(manifests.parent / "state")}
    return command + [swaps.get(arg, arg) for arg in exec_form["CMD"]]


class Controller:
    """The image's command line (`bandctl run -f /manifests --http ...`) in a child process;
    its stderr is collected on a thread."""

    def __init__(self, sim, manifests: Path, tmp_path: Path) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            image_command(manifests),
            env=venue_env(sim),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def http_url(self) -> str:
        def found() -> str | None:
            for line in self.lines:
                match = re.search(r"metrics on (http://127\.0\.0\.1:\d+)", line)
                if match:
                    return match.group(1)
            return None

        return wait_for(found, "the health server's address in the log")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def test_sigterm_cancels_every_order_and_exits_0(sim, manifests, tmp_path, capsys) -> None:
    ctl = Controller(sim, manifests, tmp_path)
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "the process to quote", timeout=30)
        url = ctl.http_url()
        wait_for(
            lambda: main(["status", "--url", url, "-o", "json"]) == 0 and json.loads(capsys.readouterr().out)["ready"],
            "readiness",
            timeout=10,
        )
        assert main(["status", "--url", url]) == 0
        table = capsys.readouterr().out
        assert table.splitlines()[0].split()[:4] == ["NAME", "VALID", "SYNCED", "QUOTING"]
        assert re.search(r"^btc\s+True\s+True\s+True\s", table, re.M), table
        ctl.proc.send_signal(signal.SIGTERM)
        assert ctl.proc.wait(30) == 0
    finally:
        ctl.stop()
    assert our_orders(sim) == []
    assert any("shutdown: cancelled" in line for line in ctl.lines)


def test_a_killed_controller_stops_heartbeating_and_the_exchange_cancels(sim, manifests, tmp_path) -> None:
    ctl = Controller(sim, manifests, tmp_path)
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "the process to quote", timeout=30)
        wait_for(lambda: sim.admin_state()["requests"].get("POST /v1/heartbeats", 0) >= 1, "a heartbeat")
        sim.advance(5)  # within the deadline: the exchange keeps our orders
        assert our_orders(sim)
        ctl.proc.kill()
        ctl.proc.wait(10)
    finally:
        ctl.stop()
    assert our_orders(sim), "killing the process cancels nothing by itself"
    sim.advance(16)  # past the 10 s deadline (plus the documented buffer)
    assert our_orders(sim) == []


def test_live_diff_and_apply(sim, manifests, monkeypatch, capsys) -> None:
    for key, value in venue_env(sim).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(manifests)
    assert main(["diff", "-f", str(manifests)]) == 1
    out = capsys.readouterr().out
    assert "to place" in out and our_orders(sim) == [], "diff sends nothing"
    assert main(["apply", "-f", str(manifests)]) == 0
    capsys.readouterr()
    assert converged(sim, manifests / "btc.yaml")
    # No heartbeat (not even the chain probe): one could arm the dead man's switch for the orders left.
    assert sim.admin_state()["requests"].get("POST /v1/heartbeats", 0) == 0
    assert main(["diff", "-f", str(manifests), "-o", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["markets"][0]["place"] == [] and plan["markets"][0]["cancel"] == []
    assert {o["owner"].lower() for o in our_orders(sim)} == {DEMO_ADDRESS.lower()}


def test_a_manifest_for_an_unknown_market_is_reported_and_others_keep_running(
    sim, manifests, monkeypatch, capsys
) -> None:
    bogus = (
        (manifests / "btc.yaml")
        .read_text()
        .replace("name: btc", "name: bogus")
        .replace("0xf552cc5023d8319aea1181f76f3adcbdc189941acf780de956fe5d1483d7a598", "0x" + "ee" * 32)
    )
    write_manifest(manifests, bogus, name="bogus.yaml")
    for key, value in venue_env(sim).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(manifests)
    assert main(["apply", "-f", str(manifests)]) == 2  # one manifest could not be applied...
    assert converged(sim, manifests / "btc.yaml")  # ...and the other was


def test_kill_9_then_a_restart_within_3s_leaves_no_orphan(sim, manifests, tmp_path) -> None:
    first = Controller(sim, manifests, tmp_path)
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "the process to quote", timeout=30)
        before = {o["id"] for o in our_orders(sim)}
        sim.set_fair_value("0xf552cc5023d8319aea1181f76f3adcbdc189941acf780de956fe5d1483d7a598", "0.54")
        first.proc.kill()  # SIGKILL: nothing is cancelled, the state directory stays as it was
        first.proc.wait(10)
    finally:
        first.stop()
    sim.step_flow(1)  # the market moves while no controller runs
    assert {o["id"] for o in our_orders(sim)} & before, "the dead process's orders are still on the book"
    second = Controller(sim, manifests, tmp_path)  # at once: well inside the exchange's heartbeat deadline
    try:
        # Every open order of the account ends up accounted for by a band: none orphaned.
        # (How fast is a benchmark's business: the time is measured by bench/restart.py.)
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "no orphan after the restart", timeout=30)
    finally:
        second.proc.send_signal(signal.SIGTERM)
        second.proc.wait(30)
        second.stop()
    assert our_orders(sim) == []
