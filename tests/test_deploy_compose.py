"""deploy/docker-compose.yaml against the Compose Specification's own JSON schema, offline.

The schema is the compose-spec project's ``compose-spec.json`` as vendored (with its
licence) by check-jsonschema, a dev dependency; it is read from the installed package, so
no test touches the network. The demo's wiring (commands, ports, the public key) is
checked in test_dockerfile.py.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "deploy" / "docker-compose.yaml"


def compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads(vendor.joinpath("compose-spec.json").read_text(encoding="utf-8"))
    return schema


def validator() -> jsonschema.protocols.Validator:
    schema = compose_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def compose_file() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_schema_is_the_compose_specification() -> None:
    schema = compose_schema()
    assert schema.get("title") == "Compose Specification"
    assert "services" in schema["properties"]


def test_compose_file_is_valid() -> None:
    errors = sorted(validator().iter_errors(compose_file()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    ("service", "key", "value"),
    [
        ("controller", "stop_grace_perod", "30s"),  # misspelt key
        ("sim", "ports", "127.0.0.1:8080:8080"),  # a string where a list belongs
        ("controller", "depends_on", {"sim": {"condition": "service_happy"}}),  # unknown condition
    ],
)
def test_schema_rejects_mistakes(service: str, key: str, value: Any) -> None:
    bad = copy.deepcopy(compose_file())
    bad["services"][service][key] = value
    assert list(validator().iter_errors(bad)), f"{service}.{key}={value!r} should be rejected"
