"""Venue pieces that need no exchange: configuration, rate budget, parsing, redaction."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fakeclock import FakeClock

from controller.ops.redact import Secret, scrub
from controller.venue.config import VenueConfig
from controller.venue.errors import ConfigError, VenueError
from controller.venue.orders import CancelResult
from controller.venue.ratebudget import TokenBucket
from controller.venue.wire import parse_book_summary, parse_open_order

KEY = "0x" + "ab" * 32


def test_environment_wins_over_dotenv(tmp_path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"PRIV_KEY={KEY}\nCLOB_HOST=http://from-file\nCHAIN_ID=80002\n")
    config = VenueConfig.from_env({"CLOB_HOST": "http://127.0.0.1:1/"}, dotenv_path=dotenv)
    assert config.clob_host == "http://127.0.0.1:1"
    assert config.chain_id == 80002
    assert config.private_key is not None and config.private_key.reveal() == KEY


def test_defaults_point_at_production() -> None:
    config = VenueConfig.from_env({}, dotenv_path=None)
    assert config.clob_host == "https://clob.polymarket.com"
    assert config.ws_host == "wss://ws-subscriptions-clob.polymarket.com"
    assert config.chain_id == 137 and config.signature_type == 0


def test_private_key_never_appears_in_repr_or_errors() -> None:
    config = VenueConfig.from_env({"PRIV_KEY": KEY}, dotenv_path=None)
    assert KEY not in repr(config) and KEY[2:] not in repr(config)
    with pytest.raises(ConfigError) as caught:
        VenueConfig.from_env({"PRIV_KEY": KEY[:-2] + "zz"}, dotenv_path=None)
    assert KEY[2:-2] not in str(caught.value)


def test_non_eoa_signature_type_needs_a_funder() -> None:
    with pytest.raises(ConfigError, match="FUNDER_ADDRESS"):
        VenueConfig.from_env({"PRIV_KEY": KEY, "SIGNATURE_TYPE": "2"}, dotenv_path=None)
    config = VenueConfig.from_env(
        {"PRIV_KEY": KEY, "SIGNATURE_TYPE": "3", "FUNDER_ADDRESS": "0x" + "12" * 20}, dotenv_path=None
    )
    assert config.signature_type == 3 and config.funder == "0x" + "12" * 20


@pytest.mark.parametrize("value", ["4", "-1", "eoa"])
def test_bad_signature_type_is_a_clear_error(value: str) -> None:
    with pytest.raises(ConfigError, match="SIGNATURE_TYPE"):
        VenueConfig.from_env({"SIGNATURE_TYPE": value}, dotenv_path=None)


def test_scrub_removes_registered_secrets() -> None:
    secret = Secret("s3cr3t-passphrase-value")
    assert "s3cr3t" not in repr(secret) and "s3cr3t" not in f"{secret}"
    assert scrub("boom: s3cr3t-passphrase-value leaked") == "boom: [REDACTED] leaked"


def test_bucket_admits_a_batch_whole_or_not_at_all() -> None:
    clock = FakeClock(100.0)
    bucket = TokenBucket(rate=40, burst=60, clock=clock)
    assert bucket.try_take(15) == 0
    assert bucket.try_take(45) == 0
    wait = bucket.try_take(15)
    assert wait == pytest.approx(15 / 40)
    clock.t += wait
    assert bucket.try_take(15) == 0
    with pytest.raises(ValueError):
        bucket.try_take(61)


def test_bucket_follows_the_exchange_headers() -> None:
    clock = FakeClock(100.0)
    bucket = TokenBucket(rate=40, burst=60, clock=clock)
    bucket.observe_server(remaining=3)
    assert bucket.try_take(4) > 0
    assert bucket.try_take(3) == 0
    bucket.observe_server(remaining=None, retry_after=2.0)
    assert bucket.try_take(1) == pytest.approx(2.0)


def test_rest_book_is_normalised_best_first() -> None:
    snapshot = parse_book_summary(
        {
            "market": "0xabc",
            "asset_id": "1",
            "bids": [{"price": "0.48", "size": "100"}, {"price": "0.49", "size": "5"}],
            "asks": [{"price": "0.52", "size": "80"}, {"price": "0.51", "size": "40"}],
            "hash": "h",
            "timestamp": "1",
            "tick_size": "0.01",
            "last_trade_price": "",
        }
    )
    assert [lv.price for lv in snapshot.book.bids] == [Decimal("0.49"), Decimal("0.48")]
    assert [lv.price for lv in snapshot.book.asks] == [Decimal("0.51"), Decimal("0.52")]
    assert snapshot.last_trade_price is None and snapshot.tick_size == Decimal("0.01")


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        {"asset_id": "1", "bids": "x"},
        {"asset_id": "1", "bids": [{"price": "NaN", "size": "1"}]},
        {"asset_id": "1", "asks": [{"price": True, "size": "1"}]},
    ],
)
def test_malformed_books_are_rejected_cleanly(raw) -> None:
    with pytest.raises(VenueError):
        parse_book_summary(raw)


def test_open_order_parsing() -> None:
    order = parse_open_order(
        {
            "id": "0x1",
            "market": "0xm",
            "asset_id": "7",
            "side": "SELL",
            "original_size": "10",
            "size_matched": "2.5",
            "price": "0.6",
        }
    )
    assert order.remaining == Decimal("7.5") and order.side == "SELL"
    with pytest.raises(VenueError):
        parse_open_order({"id": "0x1", "side": "HOLD", "original_size": "1", "price": "0.5"})


def test_cancel_result_separates_gone_from_failed() -> None:
    result = CancelResult(
        canceled=("0xa",),
        not_canceled={"0xb": "Order not found or already canceled", "0xc": "market is closed"},
    )
    assert result.gone == ("0xa", "0xb")
    assert result.failed == {"0xc": "market is closed"}


def test_reconnect_backoff_is_capped_exponential_with_jitter() -> None:
    import random

    from controller.venue.streams import Backoff

    backoff = Backoff(initial=0.5, cap=8.0)
    rng = random.Random(1)
    delays = [backoff.next_delay(rng) for _ in range(8)]
    ceilings = [0.5, 1, 2, 4, 8, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    backoff.reset()
    assert backoff.next_delay(rng) <= 0.5
