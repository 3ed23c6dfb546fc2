"""deploy/kubernetes/ against the Kubernetes API's own OpenAPI schemas, offline.

kubernetes-validate ships the JSON schemas of every Kubernetes minor version; the strict
variants reject unknown fields, so a misspelt key (``imagePullPolcy``) fails here instead
of being silently dropped by the API server. The layout rules of our manifests (one
replica, probes, non-root) are in test_dockerfile.py; this file checks only that the API
would accept them.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES = ROOT / "deploy" / "kubernetes"
CONTROLLER = KUBERNETES / "controller"  # one controller; fleet/ overlays it once per account
FLEET = KUBERNETES / "fleet"
# The oldest minor still widely run and the newest the validator knows.
VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
# Kustomize's file is a client-side format, not an API object: no OpenAPI schema exists.
KUSTOMIZATION = "kustomization.yaml"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def api_files() -> list[Path]:
    return sorted(p for p in KUBERNETES.rglob("*.yaml") if p.name != KUSTOMIZATION)


def test_every_api_file_is_found() -> None:
    names = {p.name for p in api_files()}
    assert {"deployment.yaml", "deployment-configmap.yaml", "service.yaml", "secret.example.yaml"} <= names


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", api_files(), ids=lambda p: p.name)
def test_valid_against_the_api_schema(path: Path, version: str) -> None:
    docs = documents(path)
    assert docs, f"{path.name} holds no document"
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def deployment() -> dict[str, Any]:
    (doc,) = documents(CONTROLLER / "deployment.yaml")
    return doc


def test_validator_rejects_a_misspelt_field() -> None:
    bad = copy.deepcopy(deployment())
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "IfNotPresent"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)


def test_validator_rejects_a_wrong_type() -> None:
    bad = copy.deepcopy(deployment())
    bad["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)


def test_validator_rejects_a_probe_without_a_handler_port() -> None:
    bad = copy.deepcopy(deployment())
    del bad["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)


@pytest.mark.parametrize("directory", [KUBERNETES, CONTROLLER], ids=["kubernetes", "controller"])
def test_kustomization_lists_existing_resources(directory: Path) -> None:
    (kustomization,) = documents(directory / KUSTOMIZATION)
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert resources, "kustomization.yaml lists no resources"
    for name in resources:
        assert (directory / name).exists(), f"kustomization.yaml lists {name}, which does not exist"
        assert name != "secret.example.yaml", "the placeholder Secret must never be applied"


def test_the_service_selects_the_deployments_pods() -> None:
    (service,) = documents(CONTROLLER / "service.yaml")
    for name in ("deployment.yaml", "deployment-configmap.yaml"):
        (doc,) = documents(CONTROLLER / name)
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), name
        ports = {p["name"] for c in doc["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        assert service["spec"]["ports"][0]["targetPort"] in ports, name


# -- the fleet: one Deployment per account, built by kustomize as ``kubectl apply -k`` would


def fleet() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (for kustomize) is not installed")
    built = subprocess.run(
        [kubectl, "kustomize", str(FLEET)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(built) if doc]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_fleet_builds_into_valid_api_objects(version: str) -> None:
    for doc in fleet():
        kubernetes_validate.validate(doc, version, strict=True)


def test_each_account_has_its_own_deployment_secret_volume_and_selector_over_one_repository() -> None:
    docs = fleet()
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert len(deployments) >= 2
    secrets, claims, selectors, repositories = set(), set(), set(), set()
    for d in deployments:
        pod = d["spec"]["template"]["spec"]
        controller, git_sync = pod["containers"]
        assert d["spec"]["replicas"] == 1 and d["spec"]["strategy"]["type"] == "Recreate"
        secrets.add(controller["envFrom"][0]["secretRef"]["name"])
        (state,) = [v for v in pod["volumes"] if v["name"] == "state"]
        claims.add(state["persistentVolumeClaim"]["claimName"])
        args = controller["args"]
        selectors.add(args[args.index("-l") + 1])
        repositories.add(next(a for a in git_sync["args"] if a.startswith("--repo=")))
    n = len(deployments)
    assert len(secrets) == len(claims) == len(selectors) == n, (secrets, claims, selectors)
    assert len(repositories) == 1, "every account reads the same manifests repository"
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    assert claims <= names, "each claim the Deployments mount is part of the fleet"


def test_each_accounts_service_selects_its_own_pod_only() -> None:
    docs = fleet()
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in docs if d["kind"] == "Deployment"
    }
    for service in (d for d in docs if d["kind"] == "Service"):
        selected = [name for name, labels in pods.items() if service["spec"]["selector"].items() <= labels.items()]
        assert selected == [service["metadata"]["name"]], (service["metadata"]["name"], selected)


def test_the_fleets_selectors_parse_as_bandctl_selectors() -> None:
    from controller.spec.selector import parse_selector

    for d in (d for d in fleet() if d["kind"] == "Deployment"):
        args = d["spec"]["template"]["spec"]["containers"][0]["args"]
        parse_selector(args[args.index("-l") + 1])
