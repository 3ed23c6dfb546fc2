"""JSON Schemas shipped with bandctl, installed as the package ``controller.schemas``."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Return the parsed schema ``name`` (e.g. ``"marketmaker.schema.json"``)."""
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)
