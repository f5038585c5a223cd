"""The chart's gateway part: settings, the forward-auth Service and NetworkPolicy, the
Traefik, Istio and Envoy Gateway resources, and the gateway examples of docs/gateways.md
checked against what the chart renders."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from session_service.config import ENV_PREFIX, Settings
from tests.deploy.test_helm_chart import CHART, REQUIRED, Manifest, one, validate

REPO = Path(__file__).resolve().parents[2]
GATEWAYS_DOC = (REPO / "docs" / "gateways.md").read_text()
RELEASE, NAMESPACE = "session-service", "auth"
CRDS = {"Middleware", "AuthorizationPolicy", "SecurityPolicy", "ReferenceGrant"}


def doc_gateway_yaml() -> list[Any]:
    """The YAML blocks of docs/gateways.md, in order; the chart values are the first with a gateway key."""
    return [list(yaml.safe_load_all(block)) for block in re.findall(r"```yaml\n(.*?)```", GATEWAYS_DOC, re.S)]


DOC_BLOCKS = doc_gateway_yaml()
DOC_VALUES: dict[str, Any] = next(
    block[0] for block in DOC_BLOCKS if isinstance(block[0], dict) and "gateway" in block[0]
)


def render(helm: Path, env: dict[str, str], tmp: Path, *values: dict[str, Any]) -> list[Manifest]:
    args: list[str] = []
    for i, v in enumerate(values):
        path = tmp / f"gateway-values-{i}.yaml"
        path.write_text(yaml.safe_dump(v))
        args += ["--values", str(path)]
    result = subprocess.run(
        [str(helm), "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def manifests(
    helm: Path, helm_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> list[Manifest]:
    """The chart with the documented gateway values and a NetworkPolicy."""
    tmp = tmp_path_factory.mktemp("gateway")
    return render(helm, helm_env, tmp, REQUIRED, {"networkPolicy": {"enabled": True}}, DOC_VALUES)


def documented(kind: str) -> Manifest:
    found = [d for block in DOC_BLOCKS for d in block if isinstance(d, dict) and d.get("kind") == kind]
    assert len(found) == 1, kind
    doc: Manifest = found[0]
    return doc


def test_gateway_values_pass_helm_lint_strict(helm: Path, helm_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump({**REQUIRED, **DOC_VALUES}))
    result = subprocess.run(
        [str(helm), "lint", "--strict", str(CHART), "--values", str(path)],
        env=helm_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_built_in_gateway_resources_are_valid_kubernetes(
    manifests: list[Manifest], kubernetes_validate: Path, tmp_path: Path
) -> None:
    validate(kubernetes_validate, [m for m in manifests if m["kind"] not in CRDS], tmp_path, None)


def test_gateway_settings_reach_the_pods_with_the_service_defaults(manifests: list[Manifest]) -> None:
    data = one(manifests, "ConfigMap", f"{RELEASE}-gateway")["data"]
    defaults: dict[str, Any] = {ENV_PREFIX + f.name.upper(): f.default for f in dataclasses.fields(Settings)}
    assert data.pop("SESSION_FORWARD_AUTH_PORT") == "4180"  # on in the chart, off by default in the service
    assert set(data) == {
        n for n in defaults if n.startswith(("SESSION_GATEWAY_", "SESSION_FORWARD_AUTH_"))
    } - {"SESSION_FORWARD_AUTH_PORT"}
    for name, value in data.items():
        assert type(defaults[name])(value) == defaults[name], name
    deployment = one(manifests, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert {"configMapRef": {"name": f"{RELEASE}-gateway"}} in container["envFrom"]
    assert {"name": "forward-auth", "containerPort": 4180, "protocol": "TCP"} in container["ports"]
    assert "checksum/gateway" in deployment["spec"]["template"]["metadata"]["annotations"]


def test_forward_auth_has_its_service_and_only_the_gateway_may_reach_it(manifests: list[Manifest]) -> None:
    service = one(manifests, "Service", f"{RELEASE}-forward-auth")
    assert service["spec"]["ports"] == [
        {
            "name": "forward-auth",
            "port": 4180,
            "targetPort": "forward-auth",
            "protocol": "TCP",
            "appProtocol": "http",
        }
    ]
    policy = one(manifests, "NetworkPolicy", f"{RELEASE}-forward-auth")
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "forward-auth", "protocol": "TCP"}]
    assert rule["from"] == DOC_VALUES["gateway"]["forwardAuth"]["allowedFrom"]


def test_gateway_is_off_by_default(helm: Path, helm_env: dict[str, str], tmp_path: Path) -> None:
    rendered = render(helm, helm_env, tmp_path, REQUIRED)
    assert not [m for m in rendered if "gateway" in m["metadata"]["name"] or m["kind"] in CRDS]
    assert not [m for m in rendered if m["metadata"]["name"].endswith("forward-auth")]


@pytest.mark.parametrize("kind", ["Middleware", "AuthorizationPolicy", "SecurityPolicy"])
def test_documented_examples_are_what_the_chart_renders(manifests: list[Manifest], kind: str) -> None:
    example, rendered = documented(kind), one(manifests, kind)
    assert example["apiVersion"] == rendered["apiVersion"]
    assert {k: example["metadata"][k] for k in ("name", "namespace")} == {
        k: rendered["metadata"][k] for k in ("name", "namespace")
    }
    assert example["spec"] == rendered["spec"]


def test_envoy_gateway_policy_in_another_namespace_gets_a_reference_grant(manifests: list[Manifest]) -> None:
    grant = one(manifests, "ReferenceGrant")
    assert grant["metadata"]["namespace"] == NAMESPACE
    assert grant["spec"]["from"] == [
        {"group": "gateway.envoyproxy.io", "kind": "SecurityPolicy", "namespace": "shop"}
    ]
    assert grant["spec"]["to"] == [{"group": "", "kind": "Service", "name": RELEASE}]


def test_documented_ingress_nginx_and_istio_provider_point_at_the_rendered_services(
    manifests: list[Manifest],
) -> None:
    forward_auth = one(manifests, "Service", f"{RELEASE}-forward-auth")
    port = forward_auth["spec"]["ports"][0]["port"]
    annotations = documented("Ingress")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/auth-url"] == (
        f"http://{RELEASE}-forward-auth.{NAMESPACE}.svc.cluster.local:{port}/auth"
    )
    headers = one(manifests, "ConfigMap", f"{RELEASE}-gateway")["data"]
    assert annotations["nginx.ingress.kubernetes.io/auth-response-headers"].split(",") == [
        headers[f"SESSION_GATEWAY_{h}_HEADER"] for h in ("USER_ID", "SESSION_ID", "SCOPES", "CLIENT_ID")
    ]
    grpc = one(manifests, "Service", RELEASE)
    mesh = next(d for block in DOC_BLOCKS for d in block if isinstance(d, dict) and "meshConfig" in d)
    [provider] = mesh["meshConfig"]["extensionProviders"]
    assert provider["name"] == one(manifests, "AuthorizationPolicy")["spec"]["provider"]["name"]
    assert provider["envoyExtAuthzGrpc"]["service"] == f"{RELEASE}.{NAMESPACE}.svc.cluster.local"
    assert provider["envoyExtAuthzGrpc"]["port"] == grpc["spec"]["ports"][0]["port"]
