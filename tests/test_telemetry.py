"""controller.ops.telemetry: log formats, secret scrubbing in logs and in real Sentry events."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from controller.ops.redact import REDACTED, register_secret
from controller.ops.telemetry import (
    init_sentry,
    is_secret_key,
    reconcile_scope,
    scrub_breadcrumb,
    scrub_event,
    setup_logging,
)

# A throwaway key used only by these tests (not the public demo key: any match in the
# output must come from this test).
PRIVATE_KEY = "0x" + "7c3e9a" * 10 + "d00d"
API_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
PASSPHRASE = "b1e7a1d2c3f4e5d6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0"


@pytest.fixture(autouse=True)
def secrets() -> None:
    for secret in (PRIVATE_KEY, API_SECRET, PASSPHRASE):
        register_secret(secret)


def assert_no_secret(text: str) -> None:
    for secret in (PRIVATE_KEY, PRIVATE_KEY[2:], API_SECRET, PASSPHRASE):
        assert secret not in text


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """Restore the root logger's handlers and level after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def capture(fmt: str) -> io.StringIO:
    stream = io.StringIO()
    setup_logging(fmt, "DEBUG", stream=stream)
    return stream


# -- logging ---------------------------------------------------------------------------------


def test_text_lines(root_logger: logging.Logger) -> None:
    stream = capture("text")
    logging.getLogger("bandctl.reconciler").info("%s: place %s %s @ %s", "demo-btc-150k", "BUY", "100", "0.49")
    line = stream.getvalue().rstrip("\n")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO bandctl\.reconciler: demo-btc-150k: place BUY 100 @ 0\.49", line
    ), line


def test_json_lines_parse_and_carry_extras(root_logger: logging.Logger) -> None:
    stream = capture("json")
    log = logging.getLogger("bandctl.reconciler")
    log.info(
        "%s: place %s",
        "demo-btc-150k",
        "BUY",
        extra={
            "market": "demo-btc-150k",
            "side": "BUY",
            "price": Decimal("0.49"),
            "size": Decimal("100"),
            "order_id": "0xabc",
        },
    )
    log.warning("plain")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "INFO"
    assert first["logger"] == "bandctl.reconciler"
    assert first["message"] == "demo-btc-150k: place BUY"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert (first["market"], first["side"], first["price"], first["size"], first["order_id"]) == (
        "demo-btc-150k",
        "BUY",
        "0.49",
        "100",
        "0xabc",
    )
    assert set(second) == {"time", "level", "logger", "message"}


def test_json_exceptions_are_one_line(root_logger: logging.Logger) -> None:
    stream = capture("json")
    try:
        raise ValueError("bad thing")
    except ValueError:
        logging.getLogger("bandctl").exception("reconcile failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["level"] == "ERROR"
    assert "ValueError: bad thing" in entry["exception"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_never_reach_log_output(root_logger: logging.Logger, fmt: str) -> None:
    stream = capture(fmt)
    log = logging.getLogger("bandctl.venue")
    log.info("signing with %s", PRIVATE_KEY)
    log.info("raw key " + PRIVATE_KEY[2:])
    log.warning("creds %r", {"secret": API_SECRET, "passphrase": PASSPHRASE})
    log.info("extra", extra={"detail": f"key={PRIVATE_KEY}", "private_key": "not-registered-but-named-so"})
    try:
        raise RuntimeError(f"client refused key {PRIVATE_KEY}")
    except RuntimeError:
        log.exception("connect failed")
    output = stream.getvalue()
    assert_no_secret(output)
    assert "not-registered-but-named-so" not in output
    assert output.count(REDACTED) >= 5
    assert "client refused key" in output


def test_a_bad_format_call_neither_crashes_nor_leaks(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    handler = setup_logging("text", "INFO", stream=stream)
    # Only our handler: pytest's capture handler would raise on the bad call first.
    isolated = logging.getLogger("bandctl.test.isolated")
    isolated.propagate = False
    isolated.addHandler(handler)
    try:
        isolated.warning("broken format %s %s", PRIVATE_KEY)
    finally:
        isolated.removeHandler(handler)
    output = stream.getvalue()
    assert "broken format" in output
    assert_no_secret(output)


def test_setup_logging_replaces_its_handler(root_logger: logging.Logger) -> None:
    capture("text")
    stream = capture("json")
    ours = [h for h in root_logger.handlers if h.get_name() == "bandctl"]
    assert len(ours) == 1
    logging.getLogger("x").warning("once")
    assert len(stream.getvalue().splitlines()) == 1


def test_setup_logging_rejects_bad_arguments(root_logger: logging.Logger) -> None:
    with pytest.raises(ValueError, match="text or json"):
        setup_logging("xml")
    with pytest.raises(ValueError, match="log level"):
        setup_logging("text", "LOUD")


def test_noisy_libraries_are_quieted(root_logger: logging.Logger) -> None:
    setup_logging("text", "INFO", stream=io.StringIO())
    assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
    assert logging.getLogger("bandctl").isEnabledFor(logging.INFO)


# -- scrubbing events ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "private_key",
        "PRIV_KEY",
        "privateKey",
        "secret",
        "api_secret",
        "CLOB_SECRET",
        "passphrase",
        "CLOB_PASS_PHRASE",
        "api_key",
        "POLY_API_KEY",
        "Authorization",
        "POLY_SIGNATURE",
        "POLY_PASSPHRASE",
        "password",
        "key",
        "creds",
        "Cookie",
    ],
)
def test_secret_looking_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["token_id", "signature_type", "SIGNATURE_TYPE", "market", "keys", "price", "POLY_ADDRESS"]
)
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_scrub_event_walks_everything() -> None:
    event: dict[str, Any] = {
        "message": f"boom {PRIVATE_KEY}",
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": f"bad {PRIVATE_KEY[2:]}",
                    "stacktrace": {
                        "frames": [{"vars": {"private_key": "'xyz'", "k": f"'{API_SECRET}'", "token_id": "123"}}]
                    },
                }
            ]
        },
        "breadcrumbs": {"values": [{"message": f"passphrase is {PASSPHRASE}", "data": {"POLY_PASSPHRASE": "p"}}]},
        "extra": {"nested": [{"deeper": (PRIVATE_KEY, 1, None)}]},
        "contexts": {"venue": {"Authorization": "Bearer abc", "signature_type": 2}},
        "request": {"headers": [["POLY_API_KEY", "k-123"], ["Accept", "json"]], "data": {"secret": "s"}},
        "tags": {"market": "demo"},
    }
    out = scrub_event(event, {})
    text = json.dumps(out)
    assert_no_secret(text)
    for value in ("'xyz'", "k-123", "Bearer abc", '"p"', '"s"'):
        assert value not in text
    assert out["contexts"]["venue"]["signature_type"] == 2
    assert out["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]["token_id"] == "123"
    assert out["request"]["headers"][1] == ["Accept", "json"]
    assert out["tags"] == {"market": "demo"}


def test_scrub_breadcrumb() -> None:
    crumb = {"category": "bandctl", "message": f"using {PRIVATE_KEY}", "data": {"api_key": "abc"}}
    out = scrub_breadcrumb(crumb, {})
    assert_no_secret(json.dumps(out))
    assert out["data"]["api_key"] == REDACTED


# -- real Sentry events through an in-memory transport -----------------------------------------------


class MemoryTransport(Transport):
    """Keeps envelopes instead of sending them (no network)."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def serialized(self) -> str:
        return "\n".join(e.serialize().decode("utf-8", "replace") for e in self.envelopes)

    def events(self) -> list[dict[str, Any]]:
        return [item.payload.json for e in self.envelopes for item in e.items if item.type == "event"]


@pytest.fixture
def sentry() -> Iterator[MemoryTransport]:
    transport = MemoryTransport()
    assert init_sentry("http://public@127.0.0.1:9/1", "staging", "bandctl@9.9.9-test", transport=transport)
    yield transport
    client = sentry_sdk.get_client()
    client.close()
    sentry_sdk.get_global_scope().set_client(None)


def connect_with(key: str) -> None:
    private_key = key  # a local variable holding the key: Sentry captures frame locals
    signer = {"key": private_key, "chain": 137}
    raise ValueError(f"cannot sign with {private_key} for chain {signer['chain']}")


def test_exception_with_a_key_reaches_sentry_scrubbed(sentry: MemoryTransport, root_logger: logging.Logger) -> None:
    root_logger.setLevel(logging.INFO)  # breadcrumbs are taken from records that get emitted
    logging.getLogger("bandctl.venue").info("loading key %s", PRIVATE_KEY)  # a breadcrumb
    with reconcile_scope("demo-btc-150k"):
        try:
            connect_with(PRIVATE_KEY)
        except ValueError as exc:
            sentry_sdk.capture_exception(exc)
    sentry_sdk.flush(timeout=2)
    (event,) = sentry.events()
    raw = sentry.serialized()
    assert PRIVATE_KEY[2:] in PRIVATE_KEY and PRIVATE_KEY[2:] not in raw
    assert_no_secret(raw)
    assert REDACTED in event["exception"]["values"][0]["value"]
    assert event["environment"] == "staging"
    assert event["release"] == "bandctl@9.9.9-test"
    assert event["tags"]["market"] == "demo-btc-150k"
    # The frame locals were sent (useful for debugging), just scrubbed.
    frames = event["exception"]["values"][0]["stacktrace"]["frames"]
    local_vars = next(f["vars"] for f in frames if f.get("function") == "connect_with")
    assert local_vars["private_key"] == REDACTED
    assert any(REDACTED in json.dumps(c) for c in event["breadcrumbs"]["values"])


def test_logged_errors_become_scrubbed_events(sentry: MemoryTransport) -> None:
    logging.getLogger("bandctl.reconciler").error("venue rejected key %s", PRIVATE_KEY, extra={"api_key": "abc123"})
    sentry_sdk.flush(timeout=2)
    (event,) = sentry.events()
    raw = sentry.serialized()
    assert_no_secret(raw)
    assert "abc123" not in raw
    assert "tags" not in event or "market" not in event["tags"]  # outside a reconcile scope


def test_no_dsn_is_a_no_op() -> None:
    assert init_sentry("", "production", "x") is False
    assert init_sentry(None) is False
    assert not sentry_sdk.get_client().is_active()


def test_reconcile_scope_forks_no_scope_without_sentry(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not sentry_sdk.get_client().is_active()

    def forked() -> None:
        raise AssertionError("a scope was forked with Sentry off")

    monkeypatch.setattr(sentry_sdk, "new_scope", forked)
    ran = []
    with reconcile_scope("demo-btc-150k"):
        ran.append(True)
    assert ran == [True]


def test_sentry_sends_no_pii(sentry: MemoryTransport) -> None:
    assert sentry_sdk.get_client().should_send_default_pii() is False


def test_libraries_chatter_is_quiet_at_info_and_shown_at_debug() -> None:
    import io

    stream = io.StringIO()
    handler = setup_logging("text", "INFO", stream=stream)
    try:
        logging.getLogger("websocket").error("Connection to remote host was lost. - goodbye")
        logging.getLogger("httpx").info("HTTP Request: POST http://127.0.0.1/orders")
        logging.getLogger("bandctl").info("market channel: reconnect in 0.30s")
        assert stream.getvalue().splitlines()[-1].endswith("market channel: reconnect in 0.30s")
        assert "goodbye" not in stream.getvalue() and "HTTP Request" not in stream.getvalue()
    finally:
        logging.getLogger().removeHandler(handler)
    stream = io.StringIO()
    handler = setup_logging("text", "DEBUG", stream=stream)
    try:
        logging.getLogger("websocket").error("Connection to remote host was lost. - goodbye")
        assert "goodbye" in stream.getvalue()
    finally:
        logging.getLogger().removeHandler(handler)


def test_the_default_handler_follows_sys_stderr_and_never_writes_to_a_closed_one(
    root_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    setup_logging("text", "INFO")
    logging.getLogger("bandctl").info("one")
    first.close()  # what a test harness does with its capture, or a supervisor with a pipe
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("bandctl").info("two")
    assert second.getvalue().endswith("INFO bandctl: two\n")
