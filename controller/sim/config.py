"""Emulator configuration: YAML -> validated, typed ``SimConfig``.

Amounts are converted to integer micro-units (6 decimals, as on chain) and prices
to integer price units (1e-4, fine enough for every Polymarket tick size) here, so
the engine never touches floats for money.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from controller.schemas import load_schema

MICRO = 1_000_000  # on-chain units per share / per pUSD
PRICE_SCALE = 10_000  # price units per 1.0 (covers ticks down to 0.0001)

TICK_UNITS = {"0.1": 1000, "0.01": 100, "0.005": 50, "0.0025": 25, "0.001": 10, "0.0001": 1}
TICK_STRINGS = {v: k for k, v in TICK_UNITS.items()}

# Polygon mainnet / Amoy contract addresses, as py-clob-client-v2's config.py has them.
EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"
# Exchange V3 (Protocol V2 markets: outcomes are position ids), per chain.
EXCHANGE_V3 = {137: "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa", 80002: "0x9fE6e61422AdB6F610d8597F9684b16912D50C3D"}
NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
COLLATERAL = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"


class SimConfigError(ValueError):
    """A configuration problem, with a one-line message naming the field."""


@dataclass(frozen=True)
class HouseFlow:
    enabled: bool = True
    levels: int = 3
    half_spread: float = 0.02
    level_step: float = 0.01
    size: float = 50.0


@dataclass(frozen=True)
class TakerFlow:
    enabled: bool = True
    rate: float = 0.3  # arrivals per second (Poisson)
    min_size: float = 5.0
    max_size: float = 40.0
    informed_fraction: float = 0.3  # takers who know the fair value: adverse selection
    noise_slippage: float = 0.05  # how far through mid an uninformed taker is willing to go


@dataclass(frozen=True)
class FlowConfig:
    enabled: bool = True
    step_seconds: float = 1.0
    volatility: float = 0.02  # stdev of logit(fair value) per sqrt(second)
    jump_probability: float = 0.002  # per step
    jump_size: float = 0.5  # stdev of a jump in logit units
    house: HouseFlow = field(default_factory=HouseFlow)
    takers: TakerFlow = field(default_factory=TakerFlow)


@dataclass(frozen=True)
class MarketConfig:
    condition_id: str
    yes: str
    no: str
    tick: int  # price units
    min_size: int  # micro shares
    neg_risk: bool
    fair_value: float
    name: str = ""
    question: str = ""
    outcomes: tuple[str, str] = ("Yes", "No")
    status: str = "open"
    rewards: RewardsProgramme | None = None  # liquidity rewards (docs/rewards.md); None = no programme
    fees: FeeSchedule | None = None  # taker fees and maker rebates; None = fee-free
    flow: FlowConfig = field(default_factory=FlowConfig)
    exchange: str = "v2"  # "v3": a Protocol V2 market (position ids, Exchange V3 signatures)
    end_date: str | None = None  # ISO 8601, reported as end_date_iso


@dataclass(frozen=True)
class RewardsProgramme:
    """A market's liquidity-rewards programme: ``rewards: {maxSpread, minSize, dailyRate}``."""

    max_spread: Decimal  # v, in cents from the size-cutoff-adjusted midpoint
    min_size: Decimal  # shares
    daily_rate: Decimal  # collateral paid per day, shared by normalised score
    min_age: Decimal = Decimal(0)  # seconds an order must rest before it scores


@dataclass(frozen=True)
class FeeSchedule:
    """Taker fee ``rate x (p(1-p))^exponent x shares``; makers get ``rebateRate`` of it back."""

    rate: Decimal
    rebate_rate: Decimal = Decimal(0)
    exponent: int = 1


@dataclass(frozen=True)
class AccountConfig:
    address: str  # EOA (the API key owner / order signer for types 0-2)
    funder: str  # holds the balances; == address for EOA accounts
    signature_type: int = 0
    collateral: int = 0  # micro
    tokens: dict[str, int] = field(default_factory=dict)  # micro
    name: str = ""


@dataclass(frozen=True)
class Bucket:
    rate: float
    burst: float


@dataclass(frozen=True)
class RateLimitConfig:
    enabled: bool = True
    orders: Bucket = Bucket(40, 60)
    cancels: Bucket = Bucket(80, 120)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class RestartSchedule:
    weekday: int  # Monday = 0
    second_of_day: int  # UTC
    unavailable_seconds: float = 90.0
    post_only_seconds: float = 120.0


@dataclass(frozen=True)
class Settings:
    heartbeat_timeout: float = 10.0
    ws_idle_timeout: float = 300.0
    auth_max_skew: float = 300.0
    gtd_threshold: float = 60.0
    page_size: int = 100
    price_side_semantics: str = "live"  # live: side=BUY -> best bid (see protocol notes §2.1)
    trade_statuses: tuple[str, ...] = ("MATCHED", "MINED", "CONFIRMED")
    trade_history_limit: int = 100_000  # trades kept in memory (ring buffer), see docs/emulator.md
    engine_restart: RestartSchedule | None = None  # weekly matching-engine restart (UTC)


@dataclass(frozen=True)
class SimConfig:
    markets: tuple[MarketConfig, ...]
    accounts: tuple[AccountConfig, ...] = ()
    chain_id: int = 137
    settings: Settings = field(default_factory=Settings)
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    flow_enabled: bool = True
    flow_step_seconds: float = 1.0
    faults: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def without_flow(self) -> SimConfig:
        return replace(self, flow_enabled=False)


def demo_yaml_text() -> str:
    """The built-in demo configuration, verbatim."""
    return resources.files("controller.sim").joinpath("demo.yaml").read_text(encoding="utf-8")


def load_config(source: str | Path | dict[str, Any] | SimConfig | None = None) -> SimConfig:
    """Load from a path, a parsed dict, an existing SimConfig, or None (the demo)."""
    if isinstance(source, SimConfig):
        return source
    if source is None:
        return parse_config(yaml.safe_load(demo_yaml_text()), origin="demo.yaml")
    if isinstance(source, dict):
        return parse_config(source, origin="<config>")
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SimConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise SimConfigError(f"{path}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data, origin=str(path))


def _normalize(data: Any) -> Any:
    """Undo YAML surprises: unquoted token ids become ints, `yes`/`no` keys become booleans."""
    data = copy.deepcopy(data)
    if isinstance(data, dict):
        for market in data.get("markets") or []:
            # YAML 1.1 reads the keys `yes:` / `no:` as booleans.
            if isinstance(market, dict) and isinstance(market.get("tokens"), dict):
                market["tokens"] = {
                    {True: "yes", False: "no"}.get(k, k) if isinstance(k, bool) else k: v
                    for k, v in market["tokens"].items()
                }
        for acct in data.get("accounts") or []:
            if isinstance(acct, dict) and isinstance(acct.get("tokens"), dict):
                acct["tokens"] = {str(k): v for k, v in acct["tokens"].items()}
    return data


def _micro(value: Any, where: str) -> int:
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise SimConfigError(f"{where}: not a number: {value!r}") from None
    units = d * MICRO
    if units != units.to_integral_value() or units < 0:
        raise SimConfigError(f"{where}: at most 6 decimals and non-negative: {value!r}")
    return int(units)


def _flow(data: dict[str, Any] | None, base: FlowConfig) -> FlowConfig:
    if not data:
        return base
    house = base.house
    if "house" in data:
        h = data["house"]
        house = HouseFlow(
            enabled=h.get("enabled", house.enabled),
            levels=h.get("levels", house.levels),
            half_spread=float(h.get("halfSpread", house.half_spread)),
            level_step=float(h.get("levelStep", house.level_step)),
            size=float(h.get("size", house.size)),
        )
    takers = base.takers
    if "takers" in data:
        t = data["takers"]
        takers = TakerFlow(
            enabled=t.get("enabled", takers.enabled),
            rate=float(t.get("rate", takers.rate)),
            min_size=float(t.get("minSize", takers.min_size)),
            max_size=float(t.get("maxSize", takers.max_size)),
            informed_fraction=float(t.get("informedFraction", takers.informed_fraction)),
            noise_slippage=float(t.get("noiseSlippage", takers.noise_slippage)),
        )
    return FlowConfig(
        enabled=data.get("enabled", base.enabled),
        step_seconds=float(data.get("stepSeconds", base.step_seconds)),
        volatility=float(data.get("volatility", base.volatility)),
        jump_probability=float(data.get("jumpProbability", base.jump_probability)),
        jump_size=float(data.get("jumpSize", base.jump_size)),
        house=house,
        takers=takers,
    )


def _schema_error_line(origin: str, err: jsonschema.ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path).lstrip(".")
    return f"{origin}: {path or '<root>'}: {err.message}"


def parse_config(data: Any, *, origin: str = "<config>") -> SimConfig:
    """Validate against schemas/sim-config.schema.json and build the typed config."""
    if not isinstance(data, dict):
        raise SimConfigError(f"{origin}: <root>: expected a mapping with 'markets:'")
    data = _normalize(data)
    validator = jsonschema.Draft202012Validator(load_schema("sim-config.schema.json"))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        best = jsonschema.exceptions.best_match(errors) or errors[0]
        raise SimConfigError(_schema_error_line(origin, best))

    for action in ("tickSizeChange", "falseTickSizeChange"):
        if action in (data.get("faults") or {}):
            raise SimConfigError(f"{origin}: faults.{action}: a one-off action, only for POST /admin/faults")
    flow_data = data.get("flow") or {}
    global_flow = _flow({k: v for k, v in flow_data.items() if k != "enabled"}, FlowConfig())
    markets: list[MarketConfig] = []
    seen_tokens: set[str] = set()
    seen_conditions: set[str] = set()
    for i, m in enumerate(data["markets"]):
        where = f"{origin}: markets[{i}]"
        cond = m["conditionId"].lower()
        yes, no = str(m["tokens"]["yes"]), str(m["tokens"]["no"])
        if cond in seen_conditions:
            raise SimConfigError(f"{where}.conditionId: duplicate {cond}")
        for tok in (yes, no):
            if tok in seen_tokens or yes == no:
                raise SimConfigError(f"{where}.tokens: token id {tok} used twice")
            seen_tokens.add(tok)
        seen_conditions.add(cond)
        tick_str = str(Decimal(str(m["tickSize"])).normalize())
        tick_str = format(Decimal(tick_str), "f")
        if tick_str not in TICK_UNITS:
            raise SimConfigError(f"{where}.tickSize: not a Polymarket tick size: {m['tickSize']!r}")
        tick = TICK_UNITS[tick_str]
        if "stepSeconds" in (m.get("flow") or {}):
            raise SimConfigError(f"{where}.flow.stepSeconds: the step is global, set it under top-level flow:")
        fair = float(m["fairValue"])
        rewards = m.get("rewards") or {}
        programme = None
        if rewards and rewards.get("maxSpread"):
            programme = RewardsProgramme(
                max_spread=Decimal(str(rewards["maxSpread"])),
                min_size=Decimal(str(rewards.get("minSize", 0))),
                daily_rate=Decimal(str(rewards.get("dailyRate", 0))),
                min_age=Decimal(str(rewards.get("minOrderAgeSeconds", 0))),
            )
        fee = m.get("fees")
        schedule = None
        if fee:
            schedule = FeeSchedule(
                Decimal(str(fee["rate"])), Decimal(str(fee.get("rebateRate", 0))), int(fee.get("exponent", 1))
            )
        markets.append(
            MarketConfig(
                condition_id=cond,
                yes=yes,
                no=no,
                tick=tick,
                min_size=_micro(m["minOrderSize"], f"{where}.minOrderSize"),
                neg_risk=bool(m.get("negRisk", False)),
                fair_value=fair,
                name=m.get("name", ""),
                question=m.get("question", m.get("name", "")),
                outcomes=tuple(m.get("outcomes", ("Yes", "No"))),
                status=m.get("status", "open"),
                rewards=programme,
                fees=schedule,
                flow=_flow(m.get("flow"), global_flow),
                exchange=m.get("exchange", "v2"),
                end_date=m.get("endDate"),
            )
        )

    accounts: list[AccountConfig] = []
    seen_addr: set[str] = set()
    for i, a in enumerate(data.get("accounts") or []):
        where = f"{origin}: accounts[{i}]"
        addr = a["address"].lower()
        if addr in seen_addr:
            raise SimConfigError(f"{where}.address: duplicate {a['address']}")
        seen_addr.add(addr)
        sig_type = a.get("signatureType", 0 if "funder" not in a else 1)
        funder = a.get("funder", a["address"]).lower()
        if sig_type == 0 and funder != addr:
            raise SimConfigError(f"{where}.funder: signatureType 0 (EOA) trades from its own address")
        if sig_type != 0 and "funder" not in a:
            raise SimConfigError(f"{where}.funder: required for signatureType {sig_type}")
        tokens = {}
        for tok, amt in (a.get("tokens") or {}).items():
            if tok not in seen_tokens:
                raise SimConfigError(f"{where}.tokens: unknown token id {tok}")
            tokens[tok] = _micro(amt, f"{where}.tokens.{tok}")
        accounts.append(
            AccountConfig(
                address=addr,
                funder=funder,
                signature_type=sig_type,
                collateral=_micro(a.get("collateral", 0), f"{where}.collateral"),
                tokens=tokens,
                name=a.get("name", ""),
            )
        )

    s = data.get("settings") or {}
    restart = None
    if "engineRestartSchedule" in s:
        r = s["engineRestartSchedule"]
        hours, minutes = (int(x) for x in r["timeUtc"].split(":"))
        restart = RestartSchedule(
            weekday=WEEKDAYS.index(r["weekday"]),
            second_of_day=hours * 3600 + minutes * 60,
            unavailable_seconds=float(r.get("unavailableSeconds", 90)),
            post_only_seconds=float(r.get("postOnlySeconds", 120)),
        )
    settings = Settings(
        heartbeat_timeout=float(s.get("heartbeatTimeoutSeconds", 10)),
        ws_idle_timeout=float(s.get("wsIdleTimeoutSeconds", 300)),
        auth_max_skew=float(s.get("authMaxSkewSeconds", 300)),
        gtd_threshold=float(s.get("gtdSecurityThresholdSeconds", 60)),
        page_size=int(s.get("pageSize", 100)),
        price_side_semantics=s.get("priceSideSemantics", "live"),
        trade_statuses=tuple(s.get("tradeStatuses", ("MATCHED", "MINED", "CONFIRMED"))),
        trade_history_limit=int(s.get("tradeHistoryLimit", 100_000)),
        engine_restart=restart,
    )
    r = data.get("rateLimits") or {}
    default_rl = RateLimitConfig()
    rate_limits = RateLimitConfig(
        enabled=r.get("enabled", True),
        orders=Bucket(**r["orders"]) if "orders" in r else default_rl.orders,
        cancels=Bucket(**r["cancels"]) if "cancels" in r else default_rl.cancels,
    )
    return SimConfig(
        markets=tuple(markets),
        accounts=tuple(accounts),
        chain_id=int(data.get("chainId", 137)),
        settings=settings,
        rate_limits=rate_limits,
        flow_enabled=bool(flow_data.get("enabled", True)),
        flow_step_seconds=global_flow.step_seconds,
        faults=dict(data.get("faults") or {}),
        raw=data,
    )
