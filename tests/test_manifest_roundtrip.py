"""Property: any valid spec survives spec_to_manifest → YAML → parse unchanged (exactly)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.spec.manifest import (
    TICK_SIZES,
    dump_manifests,
    parse_manifest_text,
    spec_to_manifest,
    validate_document,
)
from controller.spec.types import (
    Band,
    Limits,
    MarketMakerSpec,
    MarketRef,
    MaxLoss,
    OrderSettings,
    OrderType,
    PullOnMove,
    ReferencePrice,
    Rewards,
    Risk,
    Schedule,
    Skew,
    Source,
)

names = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
hex64 = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())
token_ids = st.integers(min_value=0, max_value=2**256 - 1).map(str)


def decimals(min_value: int, max_value: int, max_places: int = 8) -> st.SearchStrategy[Decimal]:
    """Exact decimals (integer scaled by a power of ten), including ones no float can hold."""
    return st.builds(
        lambda n, places: Decimal(n).scaleb(-places),
        st.integers(min_value=min_value, max_value=max_value),
        st.integers(min_value=0, max_value=max_places),
    )


positive = decimals(1, 10**20)


@st.composite
def band_lists(draw: st.DrawFn) -> tuple[Band, ...]:
    """Non-overlapping (possibly touching) bands in random order."""
    count = draw(st.integers(min_value=1, max_value=5))
    edges = sorted(draw(st.sets(st.integers(min_value=0, max_value=99_999), min_size=count + 1, max_size=count + 1)))
    bands = []
    for low, high in itertools.pairwise(edges):
        avg = draw(st.integers(min_value=low, max_value=high - 1))
        amounts = sorted(draw(st.lists(decimals(0, 10**9, 4), min_size=3, max_size=3)))
        if amounts[2] == 0:
            amounts[2] = Decimal(1)
        bands.append(
            Band(
                min_margin=Decimal(low).scaleb(-5),
                avg_margin=Decimal(avg).scaleb(-5),
                max_margin=Decimal(high).scaleb(-5),
                min_amount=amounts[0],
                avg_amount=amounts[1],
                max_amount=amounts[2],
            )
        )
    return tuple(draw(st.permutations(bands)))


aware_datetimes = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    first, second = draw(aware_datetimes), draw(aware_datetimes)
    if first.astimezone(UTC) == second.astimezone(UTC):
        second += timedelta(seconds=1)
    low, high = sorted((first, second), key=lambda d: d.astimezone(UTC))
    return draw(
        st.sampled_from(
            [Schedule(), Schedule(not_before=low), Schedule(not_after=high), Schedule(not_before=low, not_after=high)]
        )
    )


durations = st.integers(min_value=1, max_value=365 * 86_400).map(lambda s: timedelta(seconds=s))


@st.composite
def risks(draw: st.DrawFn, has_max_position: bool) -> Risk:
    stop = draw(st.none() | durations)
    reduce_only = draw(st.none() | durations)
    if stop is not None and reduce_only is not None and reduce_only < stop:
        stop, reduce_only = reduce_only, stop
    return Risk(
        skew=draw(st.none() | st.builds(Skew, st.integers(min_value=1, max_value=10_000)))
        if has_max_position
        else None,
        max_loss=draw(st.none() | st.builds(MaxLoss, positive, durations)),
        pull_on_move=draw(
            st.none() | st.builds(PullOnMove, decimals(1, 9_999, 4).filter(lambda d: d < 1), durations, durations)
        ),
        stop_before=stop,
        reduce_only_before=reduce_only,
    )


@st.composite
def specs(draw: st.DrawFn) -> MarketMakerSpec:
    yes, no = draw(st.lists(token_ids, min_size=2, max_size=2, unique=True))
    order_type: OrderType = draw(st.sampled_from(get_args(OrderType)))
    labels = draw(st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=20), max_size=3))
    limits = Limits(max_position=draw(st.none() | positive), max_collateral=draw(st.none() | positive))
    return MarketMakerSpec(
        name=draw(names),
        labels=tuple(sorted(labels.items())),
        market=MarketRef(
            condition_id=draw(hex64),
            yes_token=yes,
            no_token=no,
            quote=draw(st.sampled_from(["yes", "no"])),
            tick_size=draw(st.none() | st.sampled_from(TICK_SIZES)),
            min_order_size=draw(st.none() | positive),
        ),
        bands=draw(band_lists()),
        reference_price=ReferencePrice(
            source=draw(st.sampled_from(["midpoint", "microprice", "last_trade"])),
            max_spread=draw(decimals(1, 9_999, 4).filter(lambda d: d < 1)),
        ),
        limits=limits,
        risk=draw(risks(has_max_position=limits.max_position is not None)),
        rewards=Rewards(mode=draw(st.sampled_from(["fit", "ignore"]))),
        orders=OrderSettings(
            type=order_type,
            ttl_seconds=draw(st.integers(min_value=1, max_value=10**9)) if order_type == "GTD" else None,
            post_only=draw(st.booleans()),
        ),
        schedule=draw(schedules()),
        paused=draw(st.booleans()),
        ownership=draw(st.sampled_from(["exclusive", "shared"])),
    )


@settings(max_examples=150, deadline=None)
@given(specs())
def test_spec_survives_yaml_round_trip(spec: MarketMakerSpec) -> None:
    text = dump_manifests([spec_to_manifest(spec)])
    load = parse_manifest_text(text, "rt.yaml")
    assert [str(e) for e in load.errors] == []
    (again,) = load.specs
    assert again == spec
    assert again.source == Source("rt.yaml", 0)
    # Decimal == is exact, so this also proves no float detour lost digits


@settings(max_examples=50, deadline=None)
@given(specs())
def test_spec_survives_mapping_round_trip(spec: MarketMakerSpec) -> None:
    again, errors = validate_document(spec_to_manifest(spec))
    assert errors == []
    assert again == spec


@settings(max_examples=30, deadline=None)
@given(st.lists(specs(), min_size=1, max_size=4, unique_by=lambda s: s.name))
def test_multi_document_round_trip(many: list[MarketMakerSpec]) -> None:
    load = parse_manifest_text(dump_manifests([spec_to_manifest(s) for s in many]), "rt.yaml")
    assert load.errors == []
    assert load.specs == many
    assert [s.source.index for s in load.specs if s.source] == list(range(len(many)))


def test_decimals_that_floats_cannot_hold_are_quoted() -> None:
    text = dump_manifests([{"a": Decimal("0.1"), "b": Decimal("0.12345678901234567890"), "c": Decimal("1E+3")}])
    assert text == "a: 0.1\nb: '0.1234567890123456789'\nc: 1000\n"
