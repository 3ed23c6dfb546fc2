"""A condition that turns False and back within the hold costs no log line; one that stays
False is printed once the hold ends (or at stop); /status never waits."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as hs
from sim_helpers import wait_for

from controller.loop.actionlog import ActionLog, Holds, Line
from controller.observe.state import Balances
from controller.ops import status as st
from controller.ops.manifest_status import ManifestStatus, set_condition, summary_lines
from controller.spec.types import Band, MarketMakerSpec, MarketRef

LOG = logging.getLogger("bandctl.test-holds")
NOW = datetime(2026, 12, 2, tzinfo=UTC)


def line(text: str, key: object = ("m", "Quoting"), held: bool = False) -> Line:
    return Line(LOG, logging.INFO, text, (), None, key, held)


def test_a_false_reversed_within_the_hold_prints_nothing_and_is_counted() -> None:
    holds = Holds(2.0)
    up = line("True")
    assert holds.offer(up, now=0.0) == [up]
    assert holds.offer(line("False", held=True), now=10.0) == []
    assert holds.offer(line("True"), now=11.9) == []
    assert holds.due(now=100.0) == [] and holds.brief == 2


def test_a_false_that_lasts_prints_when_the_hold_ends_and_its_reversal_prints_too() -> None:
    holds = Holds(2.0)
    first = line("False SizeCapped", held=True)
    holds.offer(first, now=10.0)
    later = line("False MaxPosition", held=True)
    assert holds.offer(later, now=11.0) == []  # the latest reason replaces the first ...
    assert holds.due(now=11.99) == []
    assert holds.due(now=12.0) == [later]  # ... and the hold runs from the first change
    back = line("True")
    assert holds.offer(back, now=13.0) == [back]
    assert holds.brief == 1  # the SizeCapped line, replaced


def test_lines_without_a_key_and_other_keys_are_never_held() -> None:
    holds = Holds(2.0)
    holds.offer(line("m False", held=True), now=0.0)
    action, other = line("+ BUY", key=None), line("n True", key=("n", "Quoting"))
    assert holds.offer(action, now=0.1) == [action]
    assert holds.offer(other, now=0.2) == [other]
    assert [x.msg for x in holds.flush()] == ["m False"]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(hs.lists(hs.tuples(hs.sampled_from(["True", "False", "False other reason"]), hs.floats(0, 5)), max_size=30))
def test_the_log_always_ends_on_the_state_the_condition_is_in(changes: list[tuple[str, float]]) -> None:
    # Whatever the timing, the last line printed for a key is the condition's last state,
    # and every change is either printed or counted as brief.
    holds, now, printed, state, transitions = Holds(2.0), 0.0, [], None, 0
    for value, gap in changes:
        now += gap
        printed += holds.due(now)
        if value == state:
            continue  # Conditions.set reports changes only
        state, transitions = value, transitions + 1
        printed += holds.offer(line(value, held=value != "True"), now)
    printed += holds.flush()
    if state is not None:
        assert printed[-1].msg == state
    assert transitions == len(printed) + holds.brief


def test_a_start_that_dips_before_it_quotes_still_says_quoting() -> None:
    holds = Holds(2.0)
    holds.offer(line("Quoting=False PartiallyQuoting", held=True), now=0.0)
    up = line("Quoting=True QuotingAllBands")
    assert holds.offer(up, now=0.5) == [up], "the log had not said True yet"
    holds.offer(line("Quoting=False SizeCapped", held=True), now=5.0)
    assert holds.offer(line("Quoting=True QuotingAllBands"), now=5.5) == []


def test_the_writer_thread_releases_a_held_line_on_time_and_at_stop(caplog) -> None:
    now = [0.0]
    actions = ActionLog(hold_seconds=2.0, clock=lambda: now[0])
    actions.start()
    try:
        with caplog.at_level(logging.INFO, logger=LOG.name):
            actions.log(LOG, logging.WARNING, "m: Quoting=False", key=("m", "Quoting"), held=True)
            actions.log(LOG, logging.INFO, "m: + BUY", key=None)
            wait_for(lambda: "m: + BUY" in caplog.messages, timeout=10, what="the action line")
            assert "m: Quoting=False" not in caplog.messages
            now[0] = 2.5  # the hold is over; the next line (or the wait's end) lets it out
            actions.log(LOG, logging.INFO, "n: + SELL", key=None)
            wait_for(lambda: "m: Quoting=False" in caplog.messages, timeout=10, what="the held line")
            actions.log(LOG, logging.WARNING, "n: Quoting=False", key=("n", "Quoting"), held=True)
    finally:
        actions.stop()
    assert caplog.messages[-1] == "n: Quoting=False", "stop prints what is still held"
    assert not any(t.name == "action-log" for t in threading.enumerate())


def test_a_brief_dip_of_quoting_changes_status_at_once_and_costs_no_line(caplog) -> None:
    actions = ActionLog(hold_seconds=60.0)
    actions.start()
    status = ManifestStatus.new("m", NOW, say=actions.log)
    with caplog.at_level(logging.INFO, logger="bandctl"):
        set_condition(status, st.QUOTING, True, "QuotingAllBands", "orders rest in every band", NOW)
        set_condition(status, st.QUOTING, False, "SizeCapped", "capped", NOW + timedelta(seconds=1))
        assert status.conditions.get(st.QUOTING).status == st.FALSE  # /status is not held
        set_condition(status, st.QUOTING, True, "QuotingAllBands", "orders rest in every band", NOW)
        actions.stop()
    assert [m for m in caplog.messages if "Quoting" in m] == [
        "m: Quoting=True QuotingAllBands: orders rest in every band"
    ]
    assert actions.take_brief() == 2 and actions.take_brief() == 0


def spec(name: str) -> MarketMakerSpec:
    return MarketMakerSpec(
        name=name,
        market=MarketRef(condition_id="0x" + "11" * 32, yes_token="1", no_token="2"),
        bands=(Band(*(Decimal(x) for x in ("0.01", "0.02", "0.03", "10", "20", "30"))),),
    )


def test_the_summary_is_a_line_for_the_account_then_one_per_market_with_its_pnl_when_journaled() -> None:
    rows = []
    for i in range(5):
        status = ManifestStatus.new(f"m{i}", NOW)
        status.band_counts = {"bid": [1, 2], "ask": [1]}
        quoting = i >= 2
        set_condition(status, st.QUOTING, quoting, "QuotingAllBands" if quoting else "SizeCapped", "", NOW)
        rows.append((status, spec(status.name), Balances(tokens={"1": Decimal("12.5"), "2": Decimal("2")})))
    journaled = {"m1": {"realized": "1.5", "unrealized": "-0.254"}}
    lines = summary_lines(rows, brief_changes=4, pnl_of=journaled.get)
    assert lines[0] == (
        "summary: 3 of 5 manifest(s) quoting, 20 order(s) in bands, 4 brief condition change(s) not logged"
    )
    assert lines[1:] == [
        "m0: ref -  bids 1,2  asks 1  position 10.5  SizeCapped",
        "m1: ref -  bids 1,2  asks 1  position 10.5  pnl 1.25  SizeCapped",
        "m2: ref -  bids 1,2  asks 1  position 10.5  quoting",
        "m3: ref -  bids 1,2  asks 1  position 10.5  quoting",
        "m4: ref -  bids 1,2  asks 1  position 10.5  quoting",
    ]
    assert summary_lines(rows[2:])[0] == "summary: 3 of 3 manifest(s) quoting, 12 order(s) in bands"
