"""Conditions and metrics read the planner's codes: rewording a message changes neither."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from controller.loop.execute import Outcome, Rejection
from controller.observe.state import Balances, OpenOrder
from controller.ops.manifest_status import ManifestStatus, ObservedMarket, record_outcome
from controller.ops.metrics import Metrics
from controller.plan.model import Cancellation, MarketPlan, PlanWarning
from controller.plan.reasons import CancelReason, PullReason, WarningReason
from controller.spec.types import Band, MarketMakerSpec, MarketRef

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SPEC = MarketMakerSpec(
    name="m",
    market=MarketRef(condition_id="0x" + "11" * 32, yes_token="1", no_token="2"),
    bands=(Band(*(Decimal(x) for x in ("0.01", "0.02", "0.03", "10", "20", "30"))),),
)
ORDER = OpenOrder("0xaa", SPEC.market.condition_id, "1", "BUY", Decimal("0.4"), Decimal("10"))
NOTHING = ObservedMarket((), Balances())


def plan(**fields) -> MarketPlan:  # type: ignore[no-untyped-def]
    base = {
        "name": "m",
        "condition_id": SPEC.market.condition_id,
        "reference_price": Decimal("0.5"),
        "cancel": (),
        "place": (),
        "keep": (),
    }
    base.update(fields)
    return MarketPlan(**base)


def quoting(status: ManifestStatus) -> dict[str, str]:
    return next(c.to_json() for c in status.conditions if c.type == "Quoting")


@pytest.mark.parametrize("words", ["paused by the operator", "Pausiert", "completely different wording"])
def test_the_quoting_reason_is_the_pull_code_whatever_the_note_says(words: str) -> None:
    status = ManifestStatus.new("m", NOW)
    outcome = Outcome("m", plan=plan(note=words, pull_reason=PullReason.PAUSED))
    record_outcome(status, SPEC, outcome, NOTHING, Metrics(), NOW)
    assert quoting(status)["reason"] == "Paused"
    assert quoting(status)["message"] == words


@pytest.mark.parametrize("words", ["no room left", "balance too low for 20 @ 0.48"])
def test_a_short_band_reports_the_warning_code(words: str) -> None:
    status = ManifestStatus.new("m", NOW)
    alert = PlanWarning(WarningReason.MAX_COLLATERAL, words, "bid", 0)
    record_outcome(status, SPEC, Outcome("m", plan=plan(alerts=(alert,))), NOTHING, Metrics(), NOW)
    assert quoting(status)["reason"] == "MaxCollateral"


@pytest.mark.parametrize("words", ["outside every band", "nicht mehr im Band"])
def test_cancel_and_reject_metrics_use_codes_not_words(words: str) -> None:
    metrics = Metrics()
    cancel = Cancellation(ORDER.id, CancelReason.OUTSIDE_BANDS, words, ORDER)
    outcome = Outcome(
        "m",
        plan=plan(cancel=(cancel,)),
        canceled=[ORDER.id],
        rejected=[Rejection("place BUY 10@0.41", words, "off_grid")],
    )
    record_outcome(ManifestStatus.new("m", NOW), SPEC, outcome, NOTHING, metrics, NOW)
    text = metrics.render().decode()
    assert 'bandctl_orders_cancelled_total{market="m",reason="outside_band"} 1.0' in text
    assert 'bandctl_orders_rejected_total{market="m",reason="off_grid"} 1.0' in text


def test_waiting_for_data_is_not_reconciled() -> None:
    status = ManifestStatus.new("m", NOW)
    record_outcome(status, SPEC, Outcome("m", waiting="no book yet"), NOTHING, Metrics(), NOW)
    assert not status.reconciled_once
    synced = next(c.to_json() for c in status.conditions if c.type == "Synced")
    assert synced["status"] == "Unknown" and synced["reason"] == "WaitingForMarketData"
    record_outcome(status, SPEC, Outcome("m", plan=plan()), NOTHING, Metrics(), NOW)
    assert status.reconciled_once


def test_rejected_orders_make_synced_false_with_the_exchange_words() -> None:
    status = ManifestStatus.new("m", NOW)
    outcome = Outcome("m", plan=plan(), rejected=[Rejection("place BUY 10@0.41", "not enough balance", "rejected")])
    record_outcome(status, SPEC, outcome, NOTHING, Metrics(), NOW)
    synced = next(c.to_json() for c in status.conditions if c.type == "Synced")
    assert synced["status"] == "False" and synced["reason"] == "OrdersRejected"
    assert synced["message"] == "place BUY 10@0.41: not enough balance"


# Quoting is judged on the orders the store holds after the reconcile, not on the plan.
BID = OpenOrder("0xb1", SPEC.market.condition_id, "1", "BUY", Decimal("0.48"), Decimal("20"))
ASK = OpenOrder("0xa1", SPEC.market.condition_id, "1", "SELL", Decimal("0.52"), Decimal("20"))


def kept_plan() -> MarketPlan:
    return plan(keep=(BID.id, ASK.id))


def test_quoting_when_every_band_rests_at_least_its_min_amount() -> None:
    status = ManifestStatus.new("m", NOW)
    record_outcome(status, SPEC, Outcome("m", plan=kept_plan()), ObservedMarket((BID, ASK), Balances()), Metrics(), NOW)
    assert quoting(status)["status"] == "True"
    assert status.band_counts == {"bid": [1], "ask": [1]}


def test_an_order_the_exchange_no_longer_holds_does_not_count_though_the_plan_kept_it() -> None:
    status = ManifestStatus.new("m", NOW)
    record_outcome(status, SPEC, Outcome("m", plan=kept_plan()), ObservedMarket((BID,), Balances()), Metrics(), NOW)
    assert quoting(status)["status"] == "False" and quoting(status)["reason"] == "PartiallyQuoting"
    assert status.band_counts == {"bid": [1], "ask": [0]}


def test_a_band_filled_below_its_min_amount_is_short() -> None:
    status = ManifestStatus.new("m", NOW)
    worn = OpenOrder(ASK.id, ASK.market, ASK.token_id, "SELL", ASK.price, Decimal("20"), size_matched=Decimal("15"))
    record_outcome(
        status, SPEC, Outcome("m", plan=kept_plan()), ObservedMarket((BID, worn), Balances()), Metrics(), NOW
    )
    assert quoting(status)["reason"] == "PartiallyQuoting"


def test_orders_of_others_in_the_market_do_not_count() -> None:
    status = ManifestStatus.new("m", NOW)
    outcome = Outcome("m", plan=plan(keep=(BID.id,)))
    record_outcome(status, SPEC, outcome, ObservedMarket((BID, ASK), Balances()), Metrics(), NOW)
    assert status.band_counts == {"bid": [1], "ask": [0]}


def test_condition_lines_follow_the_order_actions_that_caused_them(caplog) -> None:
    import logging

    from controller.loop.actionlog import ActionLog

    actions = ActionLog()
    actions.start()
    status = ManifestStatus.new("m", NOW, say=actions.log)
    reconciler_log = logging.getLogger("bandctl.reconciler")
    with caplog.at_level(logging.INFO):
        actions.log(reconciler_log, logging.INFO, "m: + BUY YES 0.48 × 20 band 0")
        record_outcome(
            status, SPEC, Outcome("m", plan=kept_plan()), ObservedMarket((BID, ASK), Balances()), Metrics(), NOW
        )
        actions.stop()
    lines = [r.getMessage() for r in caplog.records]
    assert lines.index("m: + BUY YES 0.48 × 20 band 0") < lines.index(
        "m: Quoting=True QuotingAllBands: orders rest in every band"
    )
