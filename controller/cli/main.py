"""``bandctl``: the command line. Parses arguments, calls the library, prints, exits.

No business logic lives here: each command is a few lines around functions of
``controller.spec.manifest``, ``controller.plan.bands``, ``controller.cli.render``,
``controller.sim`` and the live controller.

Exit codes follow ``kubectl diff``: 0 nothing to change / all valid, 1 changes / invalid,
2 or more for errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_INVALID = 1
EXIT_ERROR = 2


def _cmd_validate(args: argparse.Namespace) -> int:
    from controller.spec.manifest import validate_paths

    result = validate_paths(args.paths)
    specs = _selected(result.specs, args)
    if specs is None:
        return EXIT_ERROR
    for error in result.errors:
        print(error, file=sys.stderr)
    if result.errors:
        print(f"{len(result.errors)} error(s) in {len(args.paths)} path(s)", file=sys.stderr)
        return EXIT_INVALID
    print(f"{len(specs)} manifest(s) valid")
    return EXIT_OK


def _cmd_diff(args: argparse.Namespace) -> int:
    from controller.cli import render
    from controller.plan.bands import plan
    from controller.spec.manifest import validate_paths

    loaded = validate_paths(args.file)
    if loaded.errors:
        for error in loaded.errors:
            print(error, file=sys.stderr)
        return EXIT_ERROR
    specs = _selected(loaded.specs, args)
    if specs is None:
        return EXIT_ERROR
    if args.state is None:
        from controller.loop.live_diff import live_diff_inputs  # the live venue: reads, sends nothing
        from controller.venue.client import Venue, VenueConfig

        try:
            state, now = live_diff_inputs(specs, Venue(VenueConfig.from_env()), args.state_dir)
        except Exception as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
    else:
        from controller.observe.statefile import StateFileError, load_state

        try:
            state = load_state(args.state)
        except StateFileError as exc:
            print(exc, file=sys.stderr)
            return EXIT_ERROR
        try:
            now = render.resolve_now(args.now, state)
        except render.NowError as exc:
            print(exc, file=sys.stderr)
            return EXIT_ERROR
    result = plan(specs, state, now, cancel_unmanaged=args.cancel_unmanaged)
    if args.output == "json":
        print(render.plan_json(result))
    else:
        print(render.plan_text(result, color=render.use_color(sys.stdout)), end="")
    return EXIT_CHANGES if result.has_changes else EXIT_OK


def _cmd_import(args: argparse.Namespace) -> int:
    from controller.spec.legacy import LegacyImportError, import_bands_json

    try:
        text = import_bands_json(args.bands, condition_id=args.condition_id, yes=args.yes, no=args.no, name=args.name)
    except LegacyImportError as exc:
        print(exc, file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(text)
    return EXIT_OK


def _cmd_sim(args: argparse.Namespace) -> int:
    from controller.sim.server import run_sim_command

    return run_sim_command(args)


def _cmd_status(args: argparse.Namespace) -> int:
    from controller.ops.status import StatusError, fetch_status, render

    selector = _selector(args)
    if selector is False:
        return EXIT_ERROR
    if args.watch:
        from controller.cli.watch import watch

        return watch(args.url, interval=args.interval, timeout=args.timeout, selector=selector or None)

    try:
        document = fetch_status(args.url.rstrip("/") + "/status", timeout=args.timeout)
    except StatusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if selector:
        document = {
            **document,
            "manifests": [m for m in document.get("manifests", []) if selector.matches(m.get("labels") or {})],
        }
    print(render(document, output=args.output), end="")
    return EXIT_OK


def _cmd_control(args: argparse.Namespace) -> int:
    from controller.cli.control import post_control

    return post_control(args.url, args.control_action, None if args.all else args.name, timeout=args.timeout)


def _cmd_live(args: argparse.Namespace) -> int:
    from controller.cli.run import parse_loss_limit, run_command

    selector = _selector(args)
    if selector is False:
        return 2
    max_loss = None
    if args.max_loss:
        try:
            max_loss = parse_loss_limit(args.max_loss)
        except ValueError as exc:
            print(f"error: --max-loss: {exc}", file=sys.stderr)
            return 2
    return run_command(args, selector=selector, max_loss=max_loss)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bandctl", description="Declarative market-making controller for Polymarket's CLOB."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check manifests; exit 1 if any is invalid")
    p.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or directories")
    _add_selector_flag(p)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("diff", help="show the orders a reconcile would place and cancel (sends nothing)")
    p.add_argument("-f", "--file", action="append", required=True, metavar="PATH", help="manifests")
    p.add_argument("--state", metavar="STATE.json", help="plan against this snapshot instead of the venue")
    p.add_argument("--now", metavar="RFC3339", help="planning time (default: the snapshot's time)")
    p.add_argument("-o", "--output", choices=["text", "json"], default="text")
    _add_ownership_flags(p)
    _add_selector_flag(p)
    p.set_defaults(func=_cmd_diff)

    p = sub.add_parser("import", help="convert a poly-market-maker bands.json into a manifest")
    p.add_argument("bands", metavar="bands.json")
    p.add_argument("--condition-id", required=True)
    p.add_argument("--yes", required=True, metavar="TOKEN_ID")
    p.add_argument("--no", required=True, metavar="TOKEN_ID")
    p.add_argument("--name", help="metadata.name (default: derived from the file name)")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("sim", help="run the local Polymarket CLOB V2 exchange emulator")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    p.add_argument("--config", metavar="sim.yaml", help="markets and accounts (default: built-in demo)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 inside a container)")
    p.add_argument("--print-config", action="store_true", help="print the built-in demo config and exit")
    p.set_defaults(func=_cmd_sim)

    p = sub.add_parser("status", help="show a running controller's manifests and conditions")
    p.add_argument("--url", default="http://127.0.0.1:9108", help="the controller's --http address")
    p.add_argument("-o", "--output", choices=["table", "json", "yaml"], default="table")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("-w", "--watch", action="store_true", help="keep watching; print rows as they change")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between polls with --watch")
    _add_selector_flag(p)
    p.set_defaults(func=_cmd_status)

    from controller.cli import markets, pnl

    markets.add_commands(sub)
    pnl.add_commands(sub)

    for action, help_text in (
        ("halt", "kill switch: cancel a manifest's orders (or all) and stop quoting until resumed"),
        ("resume", "lift a halt or a loss limit on a manifest (or all)"),
    ):
        p = sub.add_parser(action, help=help_text)
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("name", nargs="?", metavar="NAME", help="the manifest (metadata.name)")
        who.add_argument("--all", action="store_true", help="every manifest")
        p.add_argument("--url", default="http://127.0.0.1:9108", help="the controller's --http address")
        p.add_argument("--timeout", type=float, default=15.0)
        p.set_defaults(func=_cmd_control, control_action=action)

    for name, help_text in (
        ("run", "run the controller: keep every manifest's quotes converged"),
        ("apply", "run one reconcile pass against the venue and exit"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("-f", "--file", action="append", metavar="PATH", help="manifests")
        p.add_argument("--sim", action="store_true", help="start the built-in emulator and use it")
        _add_ownership_flags(p)
        p.add_argument(
            "--journal", metavar="PATH|postgresql://…", help="fill journal (default STATE_DIR/journal.sqlite)"
        )
        p.add_argument(
            "--max-loss",
            metavar="AMOUNT/WINDOW",
            help="account-wide loss limit, e.g. 200/24h: halts every manifest (reason LossLimit) until resumed",
        )
        p.add_argument("--log-format", choices=["text", "json"], default="text")
        if name == "run":
            p.add_argument(
                "--http",
                default="127.0.0.1:9108",
                metavar="HOST:PORT",
                help="health, readiness, status and metrics endpoints (default 127.0.0.1:9108)",
            )
        _add_selector_flag(p)
        p.set_defaults(func=_cmd_live, live_mode=name)
    return parser


def _selector(args: argparse.Namespace) -> Any:
    """The parsed ``-l`` selector, None when absent, False (after printing why) when invalid."""
    if not getattr(args, "selector", None):
        return None
    from controller.spec.selector import SelectorError, parse_selector

    try:
        return parse_selector(args.selector)
    except SelectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False


def _selected(specs: Sequence[Any], args: argparse.Namespace) -> list[Any] | None:
    """``specs`` narrowed by ``-l`` (all when absent); None after printing a bad selector."""
    selector = _selector(args)
    if selector is False:
        return None
    return list(specs) if selector is None else [s for s in specs if selector.matches(dict(s.labels))]


def _add_selector_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-l",
        "--selector",
        metavar="SELECTOR",
        help="only manifests whose metadata.labels match, as kubectl -l (e.g. env=prod,tier in (a,b))",
    )


def _add_ownership_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cancel-unmanaged",
        action="store_true",
        help="in ownership: shared markets, also cancel orders this controller did not place",
    )
    p.add_argument(
        "--state-dir",
        default=".bandctl",
        metavar="DIR",
        help="where the controller keeps state that outlives a restart (default .bandctl/)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
