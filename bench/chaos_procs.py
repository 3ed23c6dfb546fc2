"""The chaos run's processes: the emulator and ``bandctl run`` as real subprocesses, and what they leave.

Starts ``bandctl sim`` and ``bandctl run`` (so SIGTERM and ``kill -9`` are real signals to
a real process), keeps each controller incarnation's output in its own file, reads RSS
from /proc, counts log lines per minute and level, and greps every output for the
account's secrets. It judges nothing (``chaos_report`` does) and never touches the
controller's internals: only its process, its output and its HTTP port.
"""

from __future__ import annotations

import calendar
import collections
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) ([\w.]+): (.*)"
)
HEALTH_URL = re.compile(r"health, status and metrics on (http://\S+)")
RUNNING = "controller running with"


def start_emulator(config: Path, seed: int, log: Path, timeout: float = 30.0) -> tuple[subprocess.Popen[bytes], str]:
    """``bandctl sim`` on a free port; (process, base URL) once it prints its listening line."""
    command = [sys.executable, "-m", "controller", "sim", "--config", str(config), "--port", "0", "--seed", str(seed)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log.open("ab"))
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline().decode(errors="replace")
        if "listening on" in line:
            return process, line.rsplit(" ", 1)[-1].strip()
        if not line and process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"the emulator did not start (see {log})")


@dataclass
class Incarnation:
    """One ``bandctl run`` process: its output file and when it started and became ready."""

    number: int
    process: subprocess.Popen[bytes]
    output: Path
    started: float
    running_at: float | None = None
    status_url: str | None = None
    ended: float | None = None
    how_ended: str = ""  # "" while alive; "SIGTERM", "kill -9", or "crashed (exit N)"
    code: str = ""  # the commit the process imported, "+N modified" when controller/ had edits

    def poll_ready(self) -> bool:
        """Read the output for the health URL and the "running" line; True once running."""
        if self.running_at is not None:
            return True
        text = self.output.read_text(errors="replace")
        match = HEALTH_URL.search(text)
        if match:
            self.status_url = match.group(1).rstrip("/")
        if RUNNING in text:
            self.running_at = time.time()
            return True
        return False


@dataclass
class Controllers:
    """Every ``bandctl run`` of the run, in order; the last one is the live one."""

    work: Path
    manifests: Path
    out: Path
    env: dict[str, str]
    all: list[Incarnation] = field(default_factory=list)

    @property
    def live(self) -> Incarnation:
        return self.all[-1]

    def spawn(self) -> Incarnation:
        number = len(self.all) + 1
        output = self.out / f"controller-{number}.log"
        command = [sys.executable, "-m", "controller", "run", "-f", str(self.manifests), "--http", "127.0.0.1:0"]
        with output.open("wb") as sink:  # a reused --out must not offer an old run's URL
            process = subprocess.Popen(command, cwd=self.work, env=self.env, stdout=sink, stderr=subprocess.STDOUT)
        incarnation = Incarnation(number, process, output, time.time(), code=code_version())
        self.all.append(incarnation)
        return incarnation

    def kill9(self) -> None:
        live = self.live
        live.process.send_signal(signal.SIGKILL)
        live.process.wait()
        live.ended, live.how_ended = time.time(), "kill -9"

    def sigterm(self, timeout: float = 60.0) -> float:
        """SIGTERM the live process; seconds until it exited (``timeout`` if it had to be killed)."""
        live = self.live
        start = time.monotonic()
        live.process.send_signal(signal.SIGTERM)
        try:
            live.process.wait(timeout)
        except subprocess.TimeoutExpired:
            live.process.kill()
            live.process.wait()
        live.ended, live.how_ended = time.time(), f"SIGTERM (exit {live.process.returncode})"
        return time.monotonic() - start

    def crashed(self) -> Incarnation | None:
        """The live process if it ended on its own (then it is marked so), else None."""
        live = self.live
        if live.how_ended or live.process.poll() is None:
            return None
        live.ended, live.how_ended = time.time(), f"crashed (exit {live.process.returncode})"
        return live


def code_version() -> str:
    """The commit of the working tree and how many files under controller/ differ from it.

    Others commit beside the run, so each process may import different code: say which.
    """
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "controller"], cwd=ROOT, capture_output=True, text=True
        ).stdout
    except OSError:
        return "unknown"
    modified = len([line for line in dirty.splitlines() if line.strip()])
    return head.strip() + (f" +{modified} modified" if modified else "")


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass
class LogCounts:
    per_minute: dict[str, int]  # "YYYY-MM-DDTHH:MM" -> lines (every level)
    times: list[int]  # wall time of every parsed line, to the second
    levels: dict[str, int]
    loggers: list[tuple[str, int]]  # the most frequent "logger LEVEL: first words" patterns
    tracebacks: int
    unparsed: int
    lines: list[tuple[str, str, str, str]]  # (second, level, logger, message) of every parsed line


def _pattern(logger: str, level: str, message: str) -> str:
    words = re.sub(r"0x[0-9a-f…]+|\d[\d.,:]*", "#", message).split()
    return f"{logger} {level}: {' '.join(words[:5])}"


def count_logs(paths: list[Path]) -> LogCounts:
    per_minute: collections.Counter[str] = collections.Counter()
    levels: collections.Counter[str] = collections.Counter()
    patterns: collections.Counter[str] = collections.Counter()
    tracebacks = unparsed = 0
    lines: list[tuple[str, str, str, str]] = []
    times: list[int] = []
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            match = LOG_LINE.match(line)
            if match is None:
                unparsed += 1
                tracebacks += line.startswith("Traceback (most recent call last)")
                continue
            second, level, logger, message = match.groups()
            per_minute[second[:16]] += 1
            times.append(calendar.timegm(time.strptime(second, "%Y-%m-%dT%H:%M:%S")))
            levels[level] += 1
            patterns[_pattern(logger, level, message)] += 1
            lines.append((second, level, logger, message))
    return LogCounts(dict(per_minute), times, dict(levels), patterns.most_common(8), tracebacks, unparsed, lines)


def lines_per_minute(counts: LogCounts, start: float, end: float) -> float:
    """Parsed lines a minute between the wall times ``start`` and ``end`` (lines carry whole seconds)."""
    span = int(end) - int(start)
    if span <= 0:
        return 0.0
    inside = sum(1 for t in counts.times if int(start) <= t < int(end))
    return inside * 60.0 / span


def find_secrets(paths: list[Path], secrets: dict[str, str]) -> list[tuple[str, str, int]]:
    """(file, which secret, line number) for every occurrence of a secret value in ``paths``."""
    found: list[tuple[str, str, int]] = []
    needles = {name: value.lower() for name, value in secrets.items() if len(value) >= 8}
    for path in paths:
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            low = line.lower()
            found.extend((path.name, name, number) for name, value in needles.items() if value in low)
    return found


def controller_env(clob: str, ws: str, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOB_", "SENTRY_", "PRIV_KEY", "LOG_"))}
    env.update(CLOB_HOST=clob, WS_HOST=ws, PRIV_KEY=key, LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    return env
