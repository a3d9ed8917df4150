"""deploy/kubernetes/ against the published Kubernetes JSON schemas (strict: unknown fields are errors), through
kubernetes-validate from PyPI, which bundles them; the KEDA objects against their CRD schemas vendored from
datreeio/CRDs-catalog (tests/deploy/schemas/keda.sh). Then the wiring: probes, resources, secrets, rules, PDBs."""

from __future__ import annotations

import json

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.tools import DEPLOY, SCHEMAS

K8S = DEPLOY / "kubernetes"
K8S_VERSION = "1.33.0"
CRDS = {("keda.sh/v1alpha1", "ScaledObject"): "scaledobject_v1alpha1.json",
        ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication_v1alpha1.json"}


def documents() -> list[tuple[str, dict]]:
    return [(path.name, doc) for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in documents() if doc["kind"] == kind}


@pytest.mark.parametrize("name,doc", documents(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_each_manifest_is_valid_against_its_published_schema(name, doc):
    crd = CRDS.get((doc["apiVersion"], doc["kind"]))
    if crd is None:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    else:
        jsonschema.validate(doc, json.loads((SCHEMAS / "keda.sh" / crd).read_text()))


def test_strict_validation_is_a_real_check():
    deployment = json.loads(json.dumps(by_kind("Deployment")["stormwatch-worker"]))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}  # misspelt field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def container(deployment: dict) -> dict:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def test_probes_resources_and_secret_references():
    for name, deployment in by_kind("Deployment").items():
        c = container(deployment)
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"], name
        assert {"secretRef": {"name": "stormwatch-secrets"}} in c["envFrom"], name
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    api = container(by_kind("Deployment")["stormwatch-api"])
    assert {"name": "STORMWATCH_CONSUME", "value": "false"} in api["env"]


def test_the_rules_configmap_is_mounted_where_stormwatch_rules_points():
    settings = by_kind("ConfigMap")["stormwatch-settings"]["data"]
    assert float(settings["STORMWATCH_RULES_POLL_SECONDS"]) > 0, "hot reload polls the mounted directory"
    for name, deployment in by_kind("Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        volume = next(v for v in spec["volumes"] if v.get("configMap", {}).get("name") == "stormwatch-rules")
        mount = next(m for m in container(deployment)["volumeMounts"] if m["name"] == volume["name"])
        assert mount["mountPath"] == settings["STORMWATCH_RULES"], name
        assert "subPath" not in mount, "a subPath mount never sees ConfigMap updates"


def test_selectors_match_the_pods_they_mean():
    deployments = by_kind("Deployment")
    labels = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in deployments.items()}
    for name, d in deployments.items():
        assert d["spec"]["selector"]["matchLabels"].items() <= labels[name].items()
    for name, pdb in by_kind("PodDisruptionBudget").items():
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels[name].items(), name
    service = by_kind("Service")["stormwatch"]
    assert service["spec"]["selector"].items() <= labels["stormwatch-api"].items()
    scaled = by_kind("ScaledObject")["stormwatch-worker"]
    assert scaled["spec"]["scaleTargetRef"]["name"] in deployments


def test_the_kustomization_lists_files_that_exist():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (K8S / resource).exists(), resource
