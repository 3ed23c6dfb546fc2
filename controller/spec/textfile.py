"""Reading a file a user handed us: size-capped, UTF-8, and a short reason when it can't be.

Manifests, state snapshots and legacy ``bands.json`` files all go through here, so every
command words "missing", "a directory", "too large", "not UTF-8" and "got a list" the same way.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


class UnreadableFile(Exception):
    """``str(exc)`` is the reason, without the file name (``no such file or directory``)."""


def read_text(path: str | os.PathLike[str], limit: int, expected: str = "expected UTF-8 text") -> str:
    """The file's text (a UTF-8 byte-order mark is dropped), at most ``limit`` bytes of it.

    ``expected`` completes the message for a binary file ("manifests must be UTF-8 YAML").
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise UnreadableFile("not a regular file")
        # Read one byte past the cap rather than trusting st_size (the file may be growing).
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise UnreadableFile("no such file or directory") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {os_reason(exc)}") from None
    if len(data) > limit:
        raise UnreadableFile(f"file too large (over {_size(limit)})")
    if b"\x00" in data:
        # Checked before decoding: UTF-16, images and archives get the helpful message.
        raise UnreadableFile(f"binary file (contains NUL bytes); {expected}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def json_kind(value: Any) -> str:
    """What a parsed JSON value is, for messages: "a list", "an object", "null"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def os_reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def _size(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit % mib == 0 else f"{limit} bytes"
