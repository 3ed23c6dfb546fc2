"""What ``bandctl run --sim`` prints: only lines a person wants, in the diff's vocabulary.

Runs the README's main command for a few seconds (until both demo manifests quote),
stops it like Ctrl-C, and reads every line: no library chatter (httpx, websocket,
apscheduler, py-clob-client), no traceback, nothing at ERROR, and every line one of the
kinds the README describes.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sim_helpers import wait_for

ORDER = r"(BUY|SELL) (YES|NO) [0-9.]+ × [0-9.]+"
ORDER_ID = r"0x[0-9a-f]+…[0-9a-f]{4}"
WANTED = [
    re.compile(p)
    for p in (
        r" INFO bandctl: emulator listening on http://127\.0\.0\.1:\d+$",
        r" INFO bandctl(\.http)?: (health, status and metrics|serving /healthz /readyz /status /metrics) on ",
        r" INFO bandctl: controller running with \d+ manifest\(s\)$",
        r" INFO bandctl: (market|user) channel connected$",
        r" (INFO|WARNING) bandctl: [a-z0-9-]+: (Valid|Synced|Quoting)=(True|False|Unknown) [A-Z][A-Za-z]+(: .*)?$",
        rf" INFO bandctl\.reconciler: [a-z0-9-]+: \+ {ORDER} band \d+  {ORDER_ID}$",
        rf" INFO bandctl\.reconciler: [a-z0-9-]+: - {ORDER_ID}  {ORDER}  .+$",
        r" INFO bandctl: [a-z0-9-]+: ref .* bids .* asks .* position .*$",
        r" INFO bandctl: summary: \d+ of \d+ manifest\(s\) quoting, \d+ order\(s\) in bands(, .*)?$",
        r" INFO bandctl: received SIGINT: shutting down$",
        r" INFO bandctl: shutdown: cancelled \d+ order\(s\), 0 left$",
    )
]


def test_a_fresh_run_sim_prints_only_lines_a_person_wants(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "controller",
        "run",
        "--sim",
        "--http",
        "127.0.0.1:0",
        "--state-dir",
        str(tmp_path),
    ]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(
            lambda: sum("Quoting=True" in line for line in lines) >= 2, timeout=30, what="both demo manifests quoting"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        reader.join(10)
    unwanted = [line for line in lines if not any(p.search(line) for p in WANTED)]
    assert not unwanted, "\n".join(unwanted[:20])
    assert any(" + " in line for line in lines) and any("shutdown: cancelled" in line for line in lines)
    print(f"{len(lines)} lines")
