"""The live controller validates every WebSocket message with compiled validators; they
must reject exactly what the reference `jsonschema` implementation rejects."""

from __future__ import annotations

import copy
import random

import jsonschema
import pytest
from live_helpers import BTC, BTC_YES, TAKER_KEY, quiet_config

from controller.loop.triggers import schema_validators as _schema_validators
from controller.schemas import load_schema
from controller.sim import start_sim


@pytest.fixture(scope="module")
def messages() -> list[dict]:
    from py_clob_client_v2 import OrderArgsV2, OrderType, PartialCreateOrderOptions
    from sim_helpers import client

    with start_sim(quiet_config(), clock="manual", flow=True, record_messages=5000) as sim:
        sim.step_flow(2)
        for value in ("0.6", "0.4", "0.55"):
            sim.set_fair_value(BTC, value)
            sim.step_flow(1)
        taker = client(sim.url, TAKER_KEY)  # a trade: book, last_trade_price and trade messages
        order = taker.create_order(
            OrderArgsV2(token_id=BTC_YES, price=0.60, size=10, side="BUY"),
            PartialCreateOrderOptions(tick_size="0.01", neg_risk=False),
        )
        taker.post_order(order, OrderType.FAK)
        return sim.recorded_messages()


def mutations(message: dict, rng: random.Random, count: int) -> list[dict]:
    paths: list[tuple[list, object]] = []

    def walk(node: object, path: list) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append((path, key))
                walk(value, [*path, key])
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, [*path, index])

    walk(message, [])
    out = []
    for _ in range(count):
        mutated = copy.deepcopy(message)
        path, key = rng.choice(paths)
        target = mutated
        for step in path:
            target = target[step]
        replacement: object = rng.choice([None, 5, [], "x", {"a": 1}, True])
        if rng.random() < 0.3:
            del target[key]
        else:
            target[key] = replacement
        out.append(mutated)
    return out


@pytest.mark.parametrize("channel", ["market", "user"])
def test_compiled_validators_agree_with_jsonschema(messages: list[dict], channel: str) -> None:
    market_check, user_check = _schema_validators()
    check = market_check if channel == "market" else user_check
    reference = jsonschema.Draft202012Validator(load_schema(f"ws-{channel}.schema.json"))
    kinds = ("order", "trade") if channel == "user" else ("book", "price_change", "last_trade_price")
    sample = [m for m in messages if m.get("event_type") in kinds]
    assert len({m["event_type"] for m in sample}) == len(kinds), "the emulator produced every kind"
    rng = random.Random(2026)
    rejected = 0
    for message in sample:
        assert check(message) is None, message
        for mutated in mutations(message, rng, 15):
            expected_valid = reference.is_valid(mutated)
            problem = check(mutated)
            assert (problem is None) == expected_valid, (problem, mutated)
            rejected += problem is not None
    assert rejected > len(sample), "mutations were mostly caught"


def test_every_emulator_message_decodes_into_a_typed_event(messages: list[dict]) -> None:
    import json

    from controller.venue.wire_ws import decode_frame

    kinds = {"market": ("book", "price_change", "last_trade_price", "tick_size_change"), "user": ("order", "trade")}
    decoded = 0
    for channel, wanted in kinds.items():
        for message in (m for m in messages if m.get("event_type") in wanted):
            result = decode_frame(channel, json.dumps(message))  # type: ignore[arg-type]
            assert not result.rejects and len(result.events) == 1, (result.rejects, message)
            decoded += 1
    assert decoded > 10
