"""``bandctl pnl`` and ``bandctl report``: argument parsing and printing around ``controller.journal``.

``pnl`` prints PnL per market and in total from the journal (table, JSON or CSV);
``report`` writes one self-contained HTML page of plots. Both only read the journal
(it must exist); unrealized PnL is marked at the last mid the controller journaled.
``add_commands(subparsers)`` registers both on ``bandctl``'s parser; ``python -m
controller.cli.pnl pnl …`` runs them alone. No business logic here.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

EXIT_OK = 0
EXIT_ERROR = 2


def add_commands(subparsers: Any) -> None:
    """Add ``pnl`` and ``report`` to an ``argparse`` subparsers object."""
    p = subparsers.add_parser("pnl", help="PnL per market and in total, from the fill journal")
    _journal_flags(p)
    p.add_argument("--since", metavar="DURATION|RFC3339", help="only fills from then on (e.g. 24h, 7d)")
    p.add_argument("-o", "--output", choices=["table", "json", "csv"], default="table")
    p.set_defaults(func=pnl_command)

    p = subparsers.add_parser("report", help="write an HTML page of position, PnL and markout plots")
    _journal_flags(p)
    p.add_argument("--out", required=True, metavar="report.html", help="the page to write")
    p.add_argument("--since", metavar="DURATION|RFC3339", help="only from then on (e.g. 24h)")
    p.set_defaults(func=report_command)


def _journal_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--journal", metavar="PATH|postgresql://…", help="the journal (default DIR/journal.sqlite)")
    p.add_argument("--state-dir", default=".bandctl", metavar="DIR", help="the controller's state directory")


def parse_since(text: str | None, now: float) -> float | None:
    """``24h``/``90m``/``7d`` before ``now``, or an RFC 3339 time; ValueError with a one-line reason."""
    if text is None:
        return None
    from controller.spec.values import duration_seconds

    seconds = duration_seconds(text)
    if seconds is not None and text:
        return now - seconds
    try:
        moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: expected a duration like 24h or an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"--since {text!r}: the time needs a zone (Z or +hh:mm)")
    return moment.timestamp()


def pnl_command(args: argparse.Namespace) -> int:
    from controller.journal import JournalError, open_store
    from controller.journal.document import pnl_csv, pnl_json, pnl_table
    from controller.journal.query import journal_pnl

    now = time.time()
    try:
        since = parse_since(args.since, now)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        store = open_store(args.journal, args.state_dir)
        try:
            report = journal_pnl(store, now=now, since=since)
        finally:
            store.close()
    except JournalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    printer = {"json": pnl_json, "csv": pnl_csv, "table": pnl_table}[args.output]
    text = printer(report)
    print(text, end="" if text.endswith("\n") else "\n")
    return EXIT_OK


def report_command(args: argparse.Namespace) -> int:
    from controller.journal import JournalError, open_store

    now = time.time()
    try:
        since = parse_since(args.since, now)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        from controller.journal.report import write_report
    except ImportError as exc:
        print(
            f"error: bandctl report needs matplotlib ({exc.name} is missing): pip install matplotlib", file=sys.stderr
        )
        return EXIT_ERROR
    try:
        store = open_store(args.journal, args.state_dir)
        try:
            write_report(store, args.out, now=now, since=since)
        finally:
            store.close()
    except JournalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"wrote {args.out}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bandctl")
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
