"""HTTP plumbing shared by every route group: the error type, JSON responses, cursor pagination.

Production's shapes: errors are ``{"error": ...}`` with a status; paginated lists carry
``limit``/``count``/``next_cursor``/``data`` where the cursor is base64 of a decimal
offset and ``"LTE="`` ("-1") marks the last page. No routing, no exchange state.
"""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from . import wire

MAX_BODY = 1 << 20
END_CURSOR = "LTE="
UNAUTHORIZED = "Unauthorized/Invalid api key"
INVALID_PAYLOAD = "Invalid order payload"


class ApiError(Exception):
    """An HTTP error with production's body shape ``{"error": ...}``."""

    def __init__(
        self, status: int, message: str, extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=wire.dumps(obj), status=status, content_type="application/json", headers=headers)


def error_response(exc: ApiError) -> web.Response:
    return json_response({"error": exc.message, **exc.extra}, exc.status, exc.headers)


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ApiError(400, INVALID_PAYLOAD) from None


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    if cursor == END_CURSOR:
        return -1
    try:
        value = int(base64.b64decode(cursor, validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid next_cursor") from None
    if value < -1:
        raise ApiError(400, "invalid next_cursor")
    return value


def encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def page(items: list[Any], cursor: str | None, limit: int) -> dict[str, Any]:
    start = decode_cursor(cursor)
    if start < 0:
        return {"limit": limit, "count": 0, "next_cursor": END_CURSOR, "data": []}
    chunk = items[start : start + limit]
    end = start + len(chunk)
    return {
        "limit": limit,
        "count": len(chunk),
        "next_cursor": encode_cursor(end) if end < len(items) else END_CURSOR,
        "data": chunk,
    }


def decimal_string(num: int, den: int) -> str:
    return format(Decimal(num) / Decimal(den), "f").rstrip("0").rstrip(".") if den else "0"
