"""``bandctl run`` and ``bandctl apply``: build a live controller from the command line and run it.

Reads options and the environment, starts the emulator for ``--sim``, installs the
signal handlers and the health server, and turns results into exit codes. What the
controller does is :mod:`controller.loop`'s business, not this module's.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from controller.journal import JournalError
from controller.loop.controller import DEMO_PRIVATE_KEY, Controller, LiveOptions
from controller.loop.gcpauses import settle_after_start
from controller.loop.risk import AccountLossLimit
from controller.venue.client import Ambiguous, ConfigError, Venue, VenueConfig, VenueError

log = logging.getLogger("bandctl")


def demo_manifests() -> str:
    """The example manifests: packaged in a wheel, ``manifests/demo.yaml`` in a checkout."""
    from importlib import resources

    try:
        return str(resources.files("controller.examples").joinpath("demo.yaml"))
    except ModuleNotFoundError:
        # Editable installs cannot map a data-only folder as a package; use the checkout's.
        return str(Path(__file__).resolve().parents[2] / "manifests" / "demo.yaml")


def parse_loss_limit(text: str) -> AccountLossLimit:
    """``200/24h`` -> an account-wide limit of 200 over a trailing 24 hours."""
    from datetime import timedelta
    from decimal import Decimal, InvalidOperation

    from controller.spec.values import duration_seconds

    amount_text, _, window_text = text.partition("/")
    try:
        amount = Decimal(amount_text)
    except InvalidOperation:
        raise ValueError(f"{amount_text!r} is not an amount (write AMOUNT/WINDOW, e.g. 200/24h)") from None
    seconds = duration_seconds(window_text) if window_text else None
    if not amount.is_finite() or amount <= 0 or not seconds or seconds > 365 * 86_400:
        raise ValueError("write AMOUNT/WINDOW with a positive amount and a window up to 365d, e.g. 200/24h")
    return AccountLossLimit(amount, timedelta(seconds=seconds))


def venue_config(sim: Any) -> VenueConfig:
    if sim is not None:
        from controller.ops.redact import Secret

        return VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url)
    return VenueConfig.from_env()


def run_command(args: argparse.Namespace, selector: Any = None, max_loss: AccountLossLimit | None = None) -> int:
    from controller.ops.telemetry import init_sentry_from_env, setup_logging

    setup_logging(args.log_format, os.environ.get("LOG_LEVEL", "INFO"))
    init_sentry_from_env(os.environ)
    paths = list(args.file or [])
    sim = None
    if args.sim:
        from controller.sim import start_sim

        sim = start_sim()
        log.info("emulator listening on %s", sim.url)
        if not paths:
            paths = [demo_manifests()]
    if not paths:
        print("error: no manifests: pass -f PATH (or --sim for the demo)", file=sys.stderr)
        return 2
    try:
        venue = Venue(venue_config(sim))
        options = LiveOptions(
            manifest_paths=paths,
            cancel_unmanaged=args.cancel_unmanaged,
            state_dir=args.state_dir,
            selector=selector,
            journal=args.journal,
            max_account_loss=max_loss,
            # Reading the heartbeat chain posts a heartbeat, which could arm the exchange's dead
            # man's switch for the orders a one-shot apply leaves behind: apply only locks the state directory.
            lease_wait_seconds=0.0 if args.live_mode == "apply" else LiveOptions.lease_wait_seconds,
        )
        controller = Controller(venue, options)
        if args.live_mode == "apply":
            return _apply(controller)
        return _run(controller, args.http)
    except (ConfigError, VenueError, Ambiguous, JournalError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if sim is not None:
            sim.stop()


def _apply(controller: Controller) -> int:
    controller.prepare()
    outcomes = controller.apply_once()
    failed = [o for o in outcomes if not o.ok or o.waiting]
    for outcome in outcomes:
        placed, canceled = len(outcome.placed), len(outcome.canceled)
        why = outcome.error or outcome.waiting
        suffix = f": {why}" if why else ""
        print(f"{outcome.name}: {placed} placed, {canceled} cancelled{suffix}")
    controller.close()
    invalid = [s for s in controller.status.values() if not s.valid]
    return 2 if failed or invalid else 0


def control_actions(controller: Controller) -> dict[str, Any]:
    """``POST /halt`` and ``POST /resume`` (``?name=NAME`` or ``?all=1``) for the health server."""

    def target(params: dict[str, str]) -> str | None:
        if params.get("all") in ("1", "true"):
            return None
        name = params.get("name")
        if not name:
            raise ValueError("give ?name=NAME or ?all=1")
        return name

    def halt(params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            names, left = controller.controls.halt(target(params))
        except (KeyError, ValueError) as exc:
            return 404 if isinstance(exc, KeyError) else 400, {"error": f"{exc}"}
        return (200 if left == 0 else 504), {"halted": names, "openOrders": left}

    def resume(params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            lifted = controller.controls.resume(target(params))
        except ValueError as exc:
            return 400, {"error": f"{exc}"}
        return 200, {"resumed": lifted}

    return {"/halt": halt, "/resume": resume}


def _run(controller: Controller, bind: str) -> int:
    from controller.ops.health import HealthServer, parse_bind

    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        host, port = parse_bind(bind)
        server = HealthServer(
            host,
            port,
            health=controller.health,
            ready=controller.ready,
            status=controller.status_document,
            metrics=controller.metrics,
            actions=control_actions(controller),
            control_token=os.environ.get("BANDCTL_CONTROL_TOKEN"),
        )
    except (ValueError, OSError) as exc:
        print(f"error: --http {bind}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        return 2
    log.info("health, status and metrics on %s", server.url)
    try:
        controller.start()
        settle_after_start()  # once per process: the collector's pauses out of the requote path
        log.info("controller running with %d manifest(s)", len(controller.reconciler.specs()))
        stop.wait()
        left = controller.stop()
    finally:
        server.stop()
    return 0 if left == 0 else 1
