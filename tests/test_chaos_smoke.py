"""The chaos run's instrument (bench/chaos*.py): its judgement on hand-made snapshots, and a
seconds-long run of the real machinery whose figures must hang together.

These tests pin the measuring instrument, not the controller: a figure that is always
zero because the instrument is broken would let every target PASS.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

from chaos_figures import excused, snapshot_views  # noqa: E402
from chaos_procs import count_logs, find_secrets, lines_per_minute  # noqa: E402
from chaos_report import _secrets  # noqa: E402
from chaos_schedule import INSTANT, KINDS, build_schedule  # noqa: E402
from chaos_setup import ADDRESS, market_specs  # noqa: E402
from chaos_tally import Tally, requote_seconds, unquoted_longest  # noqa: E402

SPEC = market_specs(1)[0]  # bands (0.01, 0.03] and (0.03, 0.05], amounts 20 / 40 / 80


def order(oid: str, token: str, side: str, price: str, size: str, matched: str = "0") -> dict[str, Any]:
    return {
        "id": oid,
        "owner": ADDRESS,
        "tokenId": token,
        "market": SPEC.condition_id,
        "side": side,
        "price": price,
        "size": size,
        "sizeMatched": matched,
    }


def snapshot(orders: list[dict[str, Any]], tokens: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """The house quotes 0.48 / 0.52 (reference 0.50) and our orders sit on the book too."""
    bids = [{"price": "0.48", "size": "50"}]
    asks = [{"price": "0.52", "size": "50"}]
    for o in orders:  # the emulator's YES book holds every order, NO ones mirrored
        yes = o["tokenId"] == SPEC.yes
        q = Decimal(o["price"]) if yes else 1 - Decimal(o["price"])
        level = {"price": str(q), "size": str(Decimal(o["size"]) - Decimal(o["sizeMatched"]))}
        (bids if (o["side"] == "BUY") == yes else asks).append(level)
    return {
        "markets": {
            SPEC.condition_id: {"tickSize": "0.01", "fairValue": 0.5, "books": {SPEC.yes: {"bids": bids, "asks": asks}}}
        },
        "orders": orders,
        "balances": {ADDRESS.lower(): {"collateral": "1000", "tokens": tokens or {}}},
        **extra,
    }


QUOTED = [
    order("b0", SPEC.yes, "BUY", "0.48", "40"),  # bid band 0 (margin 0.02)
    order("b1", SPEC.no, "SELL", "0.54", "40"),  # bid 0.46, band 1
    order("a0", SPEC.no, "BUY", "0.48", "40"),  # ask 0.52, band 0
    order("a1", SPEC.yes, "SELL", "0.54", "40"),  # ask band 1
]


def views(orders: list[dict[str, Any]], **kw: Any) -> Any:
    return snapshot_views([SPEC], snapshot(orders, **kw), ADDRESS)[SPEC.name]


# ---------------------------------------------------------------- judging one snapshot


def test_reference_price_leaves_our_orders_out_and_a_full_book_is_quoted() -> None:
    # Our bid at 0.49 would make the midpoint 0.505 if it counted.
    view = views([*QUOTED, order("in", SPEC.yes, "BUY", "0.49", "10")])
    assert view.reference == Decimal("0.50")
    assert view.quoted and not view.out_of_band
    assert view.held[("bid", 0)] == (Decimal(50), Decimal(40))
    assert view.committed == Decimal("0.48") * 40 + Decimal("0.48") * 40 + Decimal("0.49") * 10


def test_out_of_band_overfill_short_bands_and_position() -> None:
    orders = [
        *QUOTED,
        order("far", SPEC.yes, "BUY", "0.40", "10"),  # margin 0.10: outside every band
        order("more", SPEC.yes, "BUY", "0.49", "60", matched="5"),  # band 0 bids now 95 > 80
    ]
    view = views([o for o in orders if o["id"] != "a1"], tokens={SPEC.yes: "30", SPEC.no: "10"})
    assert [o.id for o in view.out_of_band] == ["far"]
    assert view.held[("bid", 0)] == (Decimal(95), Decimal(55))
    assert view.short == [("ask", 1)]
    assert view.position == Decimal(20)


def test_a_side_the_position_limit_closes_is_not_short() -> None:
    # Position 250 of maxPosition 300: a full bid side (2 x 40 more) would pass it.
    view = views([o for o in QUOTED if o["id"].startswith("a")], tokens={SPEC.yes: "250"})
    assert view.short == []


def test_no_reference_price_makes_every_order_out_of_band() -> None:
    snap = snapshot(QUOTED)
    snap["markets"][SPEC.condition_id]["books"][SPEC.yes]["asks"] = [{"price": "0.80", "size": "5"}]
    view = snapshot_views([SPEC], snap, ADDRESS)[SPEC.name]
    assert view.reference is None and len(view.out_of_band) == 4


def test_excused_only_while_the_exchange_refuses_every_cancel() -> None:
    assert excused({"engineRestart": {"phase": "unavailable"}, "faults": {}})
    assert excused({"engineRestart": {"phase": "normal"}, "faults": {"burst429ActiveFor": 0.5}})
    assert not excused({"engineRestart": {"phase": "post-only"}, "faults": {"burst429ActiveFor": 0}})


# ---------------------------------------------------------------- tallies over time


def test_streaks_charge_only_time_the_exchange_accepted_cancels() -> None:
    tally = Tally([SPEC])
    far = [*QUOTED, order("far", SPEC.yes, "BUY", "0.40", "10")]
    # 0-2 s excused (engine restart), 2-5 s charged: 3 s charged of 5 s out of band.
    for t, excuse in ((100, "engine restart"), (101, "engine restart"), (102, ""), (103, ""), (104, ""), (105, "")):
        tally.feed(t, {SPEC.name: views(far)}, excuse, "fault", deletes=0)
    tally.feed(106, {SPEC.name: views(QUOTED)}, "", "", deletes=1)
    assert tally.out_of_band.seconds == pytest.approx(3.0)
    assert tally.out_of_band.started == 100 and "far" in tally.out_of_band.detail
    assert tally.excused_samples == 2


def test_overfill_beyond_one_order_is_a_subset_of_overfill() -> None:
    tally = Tally([SPEC])
    small = [*QUOTED, order("x", SPEC.yes, "BUY", "0.49", "45")]  # band 0: 85, excess 5 <= largest 45
    big = [*QUOTED, order("x", SPEC.yes, "BUY", "0.49", "20"), order("y", SPEC.yes, "BUY", "0.49", "30")]
    for t in range(4):
        tally.feed(float(t), {SPEC.name: views(small)}, "", "", 0)
    for t in range(4, 7):
        tally.feed(float(t), {SPEC.name: views(big)}, "", "", 0)  # 90, excess 10 <= 40: still one order
    assert tally.overfill.seconds == pytest.approx(6.0)
    assert tally.overfill.amount == Decimal(10)
    assert tally.overfill_beyond_one.seconds == 0.0


def test_every_order_gone_without_a_cancel_request_is_a_dead_man_firing() -> None:
    tally = Tally([SPEC])
    tally.feed(0, {SPEC.name: views(QUOTED)}, "", "", deletes=7)
    tally.feed(1, {SPEC.name: views([])}, "", "slow-heartbeat", deletes=7)
    tally.feed(2, {SPEC.name: views(QUOTED)}, "", "", deletes=7)
    tally.feed(3, {SPEC.name: views([])}, "", "SIGTERM", deletes=9)  # we cancelled them
    assert [e.fault for e in tally.switch_firings] == ["slow-heartbeat"]


def test_breaches_are_recorded_with_the_fault() -> None:
    tally = Tally([SPEC])
    tally.feed(0, {SPEC.name: views(QUOTED, tokens={SPEC.no: "301"})}, "", "error-5xx", 0)
    assert [e.fault for e in tally.position_breaches] == ["error-5xx"]


def test_requote_and_unquoted_stretches() -> None:
    series = [(0.0, True, ""), (1.0, False, "a"), (2.0, False, "b"), (3.0, True, ""), (4.0, False, "c")]
    assert requote_seconds(series, 1.5, 10) == (1.5, True, "b")
    assert requote_seconds(series, 0.0, 10) == (0.0, True, "")
    assert requote_seconds(series, 3.5, 6) == (2.5, False, "c")
    assert unquoted_longest(series, 0, 5) == (2.0, "a")


# ---------------------------------------------------------------- the schedule


@settings(max_examples=30, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), seconds=st.floats(0, 900), markets=st.integers(1, 5))
def test_schedule_is_seeded_serial_and_fits(seed: int, seconds: float, markets: int) -> None:
    faults = build_schedule(seed, seconds, markets)
    assert faults == build_schedule(seed, seconds, markets)
    for before, after in itertools.pairwise(faults):
        assert after.start >= before.end + 8.0  # one at a time, with a quiet gap
    assert all(f.end + 8.0 <= seconds for f in faults)
    assert all(f.duration == 0 for f in faults if f.kind in INSTANT)
    kinds = [f.kind for f in faults]
    first_round = kinds[: len(KINDS)]
    assert len(set(first_round)) == len(first_round)  # every kind once before any twice
    assert all(f.market is None or 0 <= f.market < markets for f in faults)


def test_a_ten_minute_schedule_has_every_kind() -> None:
    assert {f.kind for f in build_schedule(1, 600, 3)} == set(KINDS)
    with pytest.raises(ValueError, match="unknown fault kind"):
        build_schedule(1, 600, 3, ("no-such-fault",))


# ---------------------------------------------------------------- outputs


def test_secret_grep_finds_each_secret_in_any_case(tmp_path: Path) -> None:
    secrets = _secrets()
    assert len(set(secrets.values())) == 3 and all(len(v) >= 8 for v in secrets.values())
    log = tmp_path / "controller-1.log"
    log.write_text(f"ok\nkey=0x{secrets['private key'].upper()}\npass {secrets['API passphrase']}\n")
    assert sorted(find_secrets([log], secrets)) == [
        ("controller-1.log", "API passphrase", 3),
        ("controller-1.log", "private key", 2),
    ]


def test_log_counting(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    lines = [f"2026-12-01T10:00:{s:02d}Z INFO bandctl.reconciler: m: + BUY YES 0.4{s % 10}" for s in range(0, 60, 2)]
    lines += ["2026-12-01T10:01:00Z WARNING bandctl.streams: dropped", "Traceback (most recent call last):", "  x"]
    log.write_text("\n".join(lines) + "\n")
    counts = count_logs([log])
    assert counts.levels == {"INFO": 30, "WARNING": 1} and counts.tracebacks == 1 and counts.unparsed == 2
    start = 1796119200.0  # 2026-12-01T10:00:00Z
    assert lines_per_minute(counts, start, start + 60) == 30.0
    assert lines_per_minute(counts, start, start + 30) == 30.0  # 15 lines in 30 s
    assert lines_per_minute(counts, start + 0.2, start + 0.7) == 0.0  # no whole second: no rate


# ---------------------------------------------------------------- the real machinery, briefly


def test_a_short_chaos_run_produces_consistent_figures(tmp_path: Path) -> None:
    command = [
        sys.executable,
        str(BENCH / "chaos.py"),
        "--seconds",
        "26",
        "--quiet-seconds",
        "3",
        "--markets",
        "1",
        "--gap",
        "2,3",
        "--kinds",
        "burst-429,kill-9-restart",
        "--sample-hz",
        "5",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert "targets:" in done.stdout
    assert report["targets"][0]["target"] == "zero crashes"
    assert len(report["targets"]) == 11 and all(t["pass"] in (True, False, None) for t in report["targets"])
    assert sorted(r["kind"] for r in report["requotes"]) == ["burst-429", "kill-9-restart"]
    assert all(r["requote_seconds"] >= 0 and r["end"] >= r["start"] for r in report["requotes"])
    assert report["samples"] > 50 and 0 <= report["excused_samples"] <= report["samples"]
    # The kill really happened to a quoting process and the restart was checked.
    assert len(report["orphans"]) == 1 and report["orphans"][0]["killed_orders"] >= 1
    assert set(report["rss_mb"]) == {"1", "2"}
    assert all(0 < v["first"] <= v["max"] for v in report["rss_mb"].values())
    assert report["overfill_beyond_one_order"]["seconds"] <= report["overfill_any"]["seconds"]
    assert report["sigterm"]["exit_seconds"] > 0 and report["sigterm"]["left"] >= 0
    assert report["logs"]["levels"].get("INFO", 0) > 0
    verdicts = {t["target"]: t["pass"] for t in report["targets"]}
    assert verdicts["no failed heartbeat costs a quote"] is None  # no heartbeat fault ran: not measured
    assert verdicts["zero orphans after kill -9 + restart"] is not None
    assert (tmp_path / "controller-1.log").exists() and (tmp_path / "controller-2.log").exists()
