"""deploy/kubernetes/ against the Kubernetes API's own OpenAPI schemas, offline.

kubernetes-validate ships the JSON schemas of every Kubernetes minor version; the strict
variants reject unknown fields, so a misspelt key (``imagePullPolcy``) fails here instead
of being silently dropped by the API server. The layout rules of our manifests (one
replica, probes, non-root) are in test_dockerfile.py; this file checks only that the API
would accept them.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES = ROOT / "deploy" / "kubernetes"
# The oldest minor still widely run and the newest the validator knows.
VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
# Kustomize's file is a client-side format, not an API object: no OpenAPI schema exists.
KUSTOMIZATION = "kustomization.yaml"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def api_files() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != KUSTOMIZATION)


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
    (doc,) = documents(KUBERNETES / "deployment.yaml")
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


def test_kustomization_lists_existing_api_files() -> None:
    (kustomization,) = documents(KUBERNETES / KUSTOMIZATION)
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert resources, "kustomization.yaml lists no resources"
    for name in resources:
        assert (KUBERNETES / name).is_file(), f"kustomization.yaml lists {name}, which does not exist"
        assert name != "secret.example.yaml", "the placeholder Secret must never be applied"


def test_the_service_selects_the_deployments_pods() -> None:
    (service,) = documents(KUBERNETES / "service.yaml")
    for name in ("deployment.yaml", "deployment-configmap.yaml"):
        (doc,) = documents(KUBERNETES / name)
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), name
        ports = {p["name"] for c in doc["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        assert service["spec"]["ports"][0]["targetPort"] in ports, name
