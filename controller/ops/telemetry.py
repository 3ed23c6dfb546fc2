"""Logging and Sentry setup, with secrets scrubbed on the way out.

- :func:`setup_logging`: one handler on the root logger, text lines
  (``2026-11-23T12:00:00Z INFO bandctl.reconciler: demo-btc-150k: place BUY …``) or JSON
  lines (``time``, ``level``, ``logger``, ``message`` and any ``extra=`` fields). Every
  line goes through :func:`controller.ops.redact.scrub`: the message, the arguments, the
  traceback and the extras.
- :func:`init_sentry`: errors and exceptions to Sentry (no-op without a DSN). Every event
  and breadcrumb is walked by :func:`scrub_event` / :func:`scrub_breadcrumb` before it
  leaves the process: registered secrets are replaced wherever they appear, and values
  under secret-looking keys (``private_key``, ``POLY_PASSPHRASE``, ``Authorization``…)
  are redacted whatever they contain.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from typing import IO, Any

from controller.ops.redact import REDACTED, scrub

LOG_FORMATS = ("text", "json")

# Everything a LogRecord carries by itself; the rest came in through ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

# Libraries' own chatter, quieted unless LOG_LEVEL=DEBUG: APScheduler logs each job run,
# httpx a line per request, py-clob-client-v2 every non-200 answer at ERROR with its whole
# body (even the expected "key already exists" at start-up), websocket-client an ERROR on
# every dropped connection; the venue and the streams report those themselves, once.
_NOISY_LOGGERS = {
    "apscheduler": logging.WARNING,
    "urllib3": logging.WARNING,
    "websocket": logging.CRITICAL,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "py_clob_client_v2": logging.CRITICAL,
}


def _utc(created: float, millis: bool) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}Z" if millis else f"{text}Z"


class ScrubFilter(logging.Filter):
    """Renders the message with its arguments once, scrubbed, so no handler sees the raw text.

    It sits on the handler (not on a logger), because logger filters do not run for
    records propagated from child loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the log line
            message = f"{record.msg!r} % {record.args!r}"
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class TextFormatter(logging.Formatter):
    """``2026-11-23T12:00:00Z INFO bandctl.reconciler: message`` (UTC, whole seconds)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record.created, millis=False)

    def format(self, record: logging.LogRecord) -> str:
        # Scrub again at the end: a handler without the filter, or text a library added.
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record.created, millis=True),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and not key.startswith("_") and key not in entry:
                entry[key] = REDACTED if is_secret_key(key) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        # default=str: Decimal prices, datetimes and enums arrive as extras.
        return scrub(json.dumps(entry, default=str, ensure_ascii=False))


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {level!r} (DEBUG, INFO, WARNING, ERROR)")
    return value


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is written, never to a stream that
    was replaced and closed since (a test harness's capture, a supervisor's redirection)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def setup_logging(fmt: str = "text", level: str | int = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """Configure the root logger: one scrubbing handler writing ``fmt`` lines to ``stream``
    (stderr by default). Calling it again replaces the handler it installed before."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r} (text or json)")
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ScrubFilter())
    handler.set_name("bandctl")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "bandctl"]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(_level(level))
    for name, noisy_level in _NOISY_LOGGERS.items():
        logging.getLogger(name).setLevel(root.level if root.level <= logging.DEBUG else max(noisy_level, root.level))
    return handler


# -- Sentry ------------------------------------------------------------------------------------

# Keys whose values are secret whatever they contain (normalised: lower case, "-" → "_").
_SECRET_KEY = re.compile(
    r"private_?key|priv_?key|secret|pass_?phrase|passw(or)?d|authori[sz]ation|mnemonic|api_?key|cookie"
    r"|credential|creds|^key$|signature$"
)


def is_secret_key(key: str) -> bool:
    """``private_key``, ``POLY_PASSPHRASE``, ``Authorization``, ``POLY_SIGNATURE`` → True;
    ``token_id``, ``signature_type`` → False."""
    return bool(_SECRET_KEY.search(key.lower().replace("-", "_")))


def _scrub_value(value: Any, depth: int = 0) -> Any:
    if depth > 50:  # events are trees; a cycle or absurd depth is cut, not followed
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            name = scrub(key) if isinstance(key, str) else key
            secret = isinstance(key, str) and is_secret_key(key) and item not in (None, "", [], {})
            out[name] = REDACTED if secret else _scrub_value(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        # Header lists arrive as [["Authorization", "..."], ...].
        if len(value) == 2 and isinstance(value[0], str) and is_secret_key(value[0]) and value[1]:
            pair = [value[0], REDACTED]
            return pair if isinstance(value, list) else tuple(pair)
        items = [_scrub_value(item, depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if type(value).__name__ == "AnnotatedValue" and hasattr(value, "value"):
        value.value = _scrub_value(value.value, depth + 1)
        return value
    return value


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry ``before_send``: the whole event, scrubbed (exception values, messages,
    breadcrumbs, extra, contexts, tags, request data, frame local variables)."""
    return _scrub_value(event)


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry ``before_breadcrumb``: the same walk over one breadcrumb."""
    return _scrub_value(crumb)


def _version() -> str:
    try:
        return metadata.version("bandctl")
    except metadata.PackageNotFoundError:
        return "unknown"


def init_sentry(
    dsn: str | None, environment: str | None = None, release: str | None = None, *, transport: Any = None
) -> bool:
    """Start reporting to Sentry; returns False (and does nothing) when ``dsn`` is empty.

    INFO and above become breadcrumbs, ERROR and above events. ``transport`` is for tests
    (an in-memory ``sentry_sdk.transport.Transport``).
    """
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    options: dict[str, Any] = {}
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(
        dsn=dsn,
        environment=environment or "production",
        release=release or f"bandctl@{_version()}",
        before_send=scrub_event,  # type: ignore[arg-type]  # sentry's Event is a TypedDict of the same dict
        before_breadcrumb=scrub_breadcrumb,
        # No PII: send_default_pii stays at its default (False). sentry-sdk 2.75 deprecates
        # passing it, and passing its replacement (data_collection) would switch off the
        # SDK's own EventScrubber, a second layer we keep under scrub_event.
        integrations=[LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
        **options,
    )
    return True


def init_sentry_from_env(environ: Mapping[str, str]) -> bool:
    """``SENTRY_DSN``, ``SENTRY_ENVIRONMENT``, ``SENTRY_RELEASE`` → :func:`init_sentry`."""
    return init_sentry(environ.get("SENTRY_DSN"), environ.get("SENTRY_ENVIRONMENT"), environ.get("SENTRY_RELEASE"))


@contextmanager
def reconcile_scope(name: str) -> Iterator[None]:
    """Tag every Sentry event raised or logged inside one reconcile with ``market=<name>``.

    A forked scope, so the tag does not leak to other reconciles on other worker threads.
    Without Sentry initialised, no scope is forked: nothing would read it, and the fork is on
    the path of every reconcile, before its first request.
    """
    import sentry_sdk

    if not sentry_sdk.get_client().is_active():
        yield
        return
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("market", name)
        yield
