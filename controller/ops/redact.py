"""Keeping secrets out of logs, exceptions, Sentry events and diffs.

Secrets are wrapped in :class:`Secret` as soon as they are read, so an accidental
``repr`` or f-string shows ``***``. Every secret is also registered here, so that
text which escaped the wrapper (an exception message from a library, a log line)
can be scrubbed before it leaves the process.
"""

from __future__ import annotations

import threading

REDACTED = "[REDACTED]"
_lock = threading.Lock()
_known: set[str] = set()
# Shorter strings would scrub innocent text (and cannot be real keys anyway).
_MIN_SECRET_LENGTH = 8


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def register_secret(value: str | None) -> None:
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _known.add(value)
        # A private key also travels without its 0x prefix (and vice versa).
        if value.startswith("0x") and len(value) > _MIN_SECRET_LENGTH + 2:
            _known.add(value[2:])


def scrub(text: str) -> str:
    """Replace every registered secret in ``text``."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_known, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text
