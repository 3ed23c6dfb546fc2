"""Journal locations: a PostgreSQL URL or a file path, and a URL made safe to show.

Knows only the text of a target: whether it names PostgreSQL, what it looks like with
its password removed, and which parts are secrets for the scrubber. Opens nothing.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit, urlunsplit

from controller.ops.redact import register_secret


def redact_dsn(dsn: str) -> str:
    """A PostgreSQL URL without its password (and without query parameters, which may hold one)."""
    try:
        parts = urlsplit(dsn)
        host = parts.hostname or ""
        netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "postgresql://[unparseable]"


def register_dsn_secrets(dsn: str) -> None:
    """The password of a DSN (in the URL or as a ``password=`` parameter) joins the scrubbed secrets."""
    try:
        parts = urlsplit(dsn)
        register_secret(parts.password)
        for key, value in parse_qsl(parts.query):
            if key == "password":
                register_secret(value)
    except ValueError:
        pass


def is_postgres(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))
