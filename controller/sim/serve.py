"""``bandctl sim``: load the config, serve on a port until SIGINT/SIGTERM.

Command-line shell only; the first line printed (``bandctl sim listening on ...``) is
parsed by scripts, so its wording is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from .config import SimConfig, SimConfigError, demo_yaml_text, load_config


def run_sim_command(args: argparse.Namespace) -> int:
    """Entry point of ``bandctl sim``: serve until SIGINT/SIGTERM."""
    if getattr(args, "print_config", False):
        sys.stdout.write(demo_yaml_text())
        return 0
    try:
        config = load_config(getattr(args, "config", None))
    except SimConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    port = getattr(args, "port", 0) or 0
    if not 0 <= port <= 65535:
        print(f"error: invalid port {port}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = getattr(args, "host", None) or "127.0.0.1"
    return asyncio.run(_serve(config, host, port, getattr(args, "seed", None)))


async def _serve(config: SimConfig, host: str, port: int, seed: int | None) -> int:
    from .server import SimServer  # the server imports this module to re-export the command

    server = SimServer(config, seed=seed)
    try:
        actual = await server.start(host, port)
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"bandctl sim listening on http://{host}:{actual}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
    return 0
