"""How long a ``kill -9`` and an immediate restart leave orders no band accounts for.

Runs the real ``bandctl run`` process against the emulator (quiet market, manual clock
so the dead man's switch stays out of it), moves the market while the controller is
dead, starts a new process at once, and times until every open order of the account is
accounted for by a band again. In the same run it measures the floor: how long a bare
``python -c "import controller.cli.run"`` takes on this machine, since a new process
cannot act before its imports are done.

    .venv/bin/python bench/restart.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from live_helpers import BTC, converged, our_orders, quiet_config, write_manifest  # noqa: E402

from controller.loop.controller import DEMO_PRIVATE_KEY  # noqa: E402
from controller.sim import start_sim  # noqa: E402


def spawn(sim, manifests: Path, cwd: Path) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOB_", "SENTRY_"))}
    env.update(CLOB_HOST=sim.url, WS_HOST=sim.ws_url, PRIV_KEY=DEMO_PRIVATE_KEY)
    command = [sys.executable, "-m", "controller", "run", "-f", str(manifests), "--http", "127.0.0.1:0"]
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait(predicate, timeout: float = 60.0) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError("not converged")
        time.sleep(0.01)
    return time.monotonic() - start


def one_round(work: Path, fair: str) -> float:
    sim = start_sim(quiet_config(), clock="manual", seed=7, flow=True)
    try:
        sim.step_flow(1)
        manifests = work / "manifests"
        write_manifest(manifests)
        first = spawn(sim, manifests, work)
        wait(lambda: converged(sim, manifests / "btc.yaml"))
        first.kill()
        first.wait()
        sim.set_fair_value(BTC, fair)
        sim.step_flow(1)
        assert our_orders(sim)
        second = spawn(sim, manifests, work)
        elapsed = wait(lambda: converged(sim, manifests / "btc.yaml"))
        second.terminate()
        second.wait(30)
        return elapsed
    finally:
        sim.stop()


def import_floor() -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", "import controller.cli.run"], cwd=ROOT, check=True)
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    restarts, floors = [], []
    for index in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="bandctl-restart-") as work:
            restarts.append(one_round(Path(work), "0.53" if index % 2 else "0.47"))
        floors.append(import_floor())
    print(f"{args.repeats} rounds: kill -9, market moved, restart at once")
    spread = f"min {min(restarts):.2f}, max {max(restarts):.2f}"
    print(f"restart to no orphan: median {statistics.median(restarts):.2f} s ({spread})")
    print(f"floor, importing the controller in a new process: median {statistics.median(floors):.2f} s")
    print(f"after the imports: median {statistics.median(restarts) - statistics.median(floors):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
