"""The Helm chart: it lints, renders manifests that Kubernetes accepts, rejects bad values,
and renders the security, probe, rollout and secret-handling properties we rely on."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from session_wire.v1 import session_pb2

from session_service.config import ENV_PREFIX, Settings
from session_service.security.policy import parse_policy
from session_service.security.upstream import LOGOUT_ISSUERS_SETTING, load_issuers
from session_service.transport.caller_guard import REFLECTION_RPC
from tests.deploy.chart_values_doc import README, chart_defined_paths, readme_with_table, value_comments

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "session-service"
VALUES_FULL = Path(__file__).with_name("values-full.yaml")
RELEASE = "rel"
FULLNAME = "rel-session-service"
# The least a production install must set: where Redis is, the signing keys, the
# refresh-token keys, and (without a policy) the explicit opt-in to unidentified callers.
STORE_AND_KEYS: dict[str, Any] = {
    "redis": {"url": "redis://redis:6379/0"},
    "keys": {"existingSecret": "session-keys"},
    "refreshTokenKeys": {"existingSecret": "session-refresh-token-keys"},
}
OPEN_TO_ALL: dict[str, Any] = {"authz": {"allowUnauthenticatedCallers": True}}
REQUIRED: dict[str, Any] = {**STORE_AND_KEYS, **OPEN_TO_ALL}
REFRESH_KEY = base64.b64encode(bytes(range(32))).decode()
# The chart's minimum (native gRPC probes are GA from 1.27) and the newest bundled schemas.
KUBE_VERSIONS = ["1.27.0", None]
HEALTH_SERVICE = "session.v1.SessionService"
# The RPC names an authorization policy may use, as the server passes them to the policy.
POLICY_RPCS = (
    *(m.name for m in session_pb2.DESCRIPTOR.services_by_name["SessionService"].methods),
    REFLECTION_RPC,
)

# Security set-ups, each rendered once and validated by kubernetes-validate below.
TLS_SECRET: dict[str, Any] = {"tls": {"enabled": True, "existingSecret": "session-tls"}}
CERT_MANAGER: dict[str, Any] = {
    "tls": {
        "enabled": True,
        "certManager": {
            "enabled": True,
            "issuerRef": {"name": "internal-ca"},
            "dnsNames": ["sessions.example.com"],
        },
    },
    "service": {"headless": True},
}
MTLS: dict[str, Any] = {
    "tls": {"enabled": True, "existingSecret": "session-tls", "clientAuth": {"enabled": True}}
}
POLICY: dict[str, Any] = {
    "callers": {
        "spiffe://cluster.local/ns/auth/sa/login": ["*"],
        "system:serviceaccount:shop:cart": {"rpcs": ["Create", "Get"], "client_ids": ["web"]},
    }
}
CALLER_TOKENS: dict[str, Any] = {
    "callerTokens": {
        "enabled": True,
        "issuer": "https://kubernetes.default.svc.cluster.local",
        "audience": "session-service",
        "jwksConfigMap": "cluster-jwks",
    }
}
GATEWAY_PEER: dict[str, Any] = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}}
}
SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "tls-existing-secret": [REQUIRED, TLS_SECRET],
    "cert-manager": [REQUIRED, CERT_MANAGER],
    "mtls": [REQUIRED, MTLS, {"authz": {"existingConfigMap": "session-authz"}}],
    "mtls-policy": [REQUIRED, MTLS, {"authz": {"policy": POLICY}}],
    "client-ca-secret": [
        REQUIRED,
        MTLS,
        {"tls": {"clientAuth": {"caSecret": "client-ca", "caSecretKey": "ca.pem"}}},
        {"authz": {"policy": POLICY}},
    ],
    "caller-tokens-policy-configmap": [
        REQUIRED,
        CALLER_TOKENS,
        {"authz": {"existingConfigMap": "session-authz", "existingConfigMapKey": "policy.yaml"}},
    ],
    "caller-tokens-secret": [
        REQUIRED,
        CALLER_TOKENS,
        {"callerTokens": {"jwksConfigMap": "", "jwksSecret": "jwks"}},
        {"authz": {"policy": POLICY}},
    ],
    "network-policy-peers": [
        REQUIRED,
        {"networkPolicy": {"clientLabel": "example.com/sessions", "extraPeers": [GATEWAY_PEER]}},
    ],
}

Manifest = dict[str, Any]


class Chart:
    """Runs Helm on the chart with values given as dicts (each one a values file)."""

    def __init__(self, helm: Path, env: dict[str, str], tmp: Path) -> None:
        self.helm, self.env, self.tmp = helm, env, tmp
        self._files = 0

    def _value_args(self, values: Sequence[dict[str, Any] | Path]) -> list[str]:
        args: list[str] = []
        for v in values:
            if isinstance(v, dict):
                self._files += 1
                path = self.tmp / f"values-{self._files}.yaml"
                path.write_text(yaml.safe_dump(v))
                v = path
            args += ["--values", str(v)]
        return args

    def run(
        self, *args: str, values: Sequence[dict[str, Any] | Path] = ()
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.helm), *args, *self._value_args(values)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def render(self, *values: dict[str, Any] | Path) -> list[Manifest]:
        """The manifests `helm template` renders; fails the test when Helm fails."""
        result = self.run("template", RELEASE, str(CHART), values=values)
        assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    def render_error(self, *values: dict[str, Any] | Path) -> str:
        """Helm's error message; fails the test when the chart renders."""
        result = self.run("template", RELEASE, str(CHART), values=values)
        assert result.returncode != 0, "expected helm template to fail, but it rendered"
        return result.stderr


@pytest.fixture(scope="module")
def chart(helm: Path, helm_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Chart:
    return Chart(helm, helm_env, tmp_path_factory.mktemp("values"))


@pytest.fixture(scope="module")
def default_manifests(chart: Chart) -> list[Manifest]:
    return chart.render(REQUIRED)


@pytest.fixture(scope="module")
def full_manifests(chart: Chart) -> list[Manifest]:
    return chart.render(VALUES_FULL)


@pytest.fixture(scope="module")
def scenarios(chart: Chart) -> dict[str, list[Manifest]]:
    """The manifests of every security set-up in SCENARIOS."""
    return {name: chart.render(*values) for name, values in SCENARIOS.items()}


def one(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind and name in (None, m["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {[m['metadata']['name'] for m in found]}"
    return found[0]


def server_pod_spec(manifests: list[Manifest]) -> dict[str, Any]:
    spec: dict[str, Any] = one(manifests, "Deployment")["spec"]["template"]["spec"]
    return spec


def server_container(manifests: list[Manifest]) -> dict[str, Any]:
    container: dict[str, Any] = server_pod_spec(manifests)["containers"][0]
    return container


def configmap_data(manifests: list[Manifest]) -> dict[str, str]:
    """The settings: the ConfigMap the server container takes its environment from."""
    (source,) = server_container(manifests)["envFrom"]
    data: dict[str, str] = one(manifests, "ConfigMap", source["configMapRef"]["name"])["data"]
    return data


def pod_annotations(manifests: list[Manifest]) -> dict[str, str]:
    annotations: dict[str, str] = one(manifests, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    return annotations


def pem_pair() -> tuple[str, str]:
    """A fresh Ed25519 key as (private PEM, public PEM)."""
    private = ed25519.Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem.decode(), public_pem.decode()


# Custom resources kubernetes-validate has no schema for; their fields are checked by their own tests.
CUSTOM_KINDS = {"ServiceMonitor", "Certificate"}


def validate(kubernetes_validate: Path, manifests: list[Manifest], tmp: Path, kube: str | None) -> None:
    """kubernetes-validate --strict on every manifest except the custom resources."""
    path = tmp / "rendered.yaml"
    path.write_text(yaml.safe_dump_all([m for m in manifests if m["kind"] not in CUSTOM_KINDS]))
    version = ["--kubernetes-version", kube] if kube else []
    result = subprocess.run(
        [str(kubernetes_validate), "--strict", *version, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubernetes-validate --strict failed:\n{result.stdout}\n{result.stderr}"


def walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk_strings(v)
    elif value is not None:
        yield str(value)


# --- lint and Kubernetes schemas --------------------------------------------------------


@pytest.mark.parametrize("values", [[], [REQUIRED], [VALUES_FULL]], ids=["bare", "required", "full"])
def test_chart_passes_helm_lint_strict(chart: Chart, values: list[dict[str, Any] | Path]) -> None:
    result = chart.run("lint", "--strict", str(CHART), values=values)
    assert result.returncode == 0, f"helm lint --strict failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("kube", KUBE_VERSIONS, ids=lambda k: k or "newest")
def test_default_values_render_manifests_kubernetes_accepts(
    default_manifests: list[Manifest], kubernetes_validate: Path, tmp_path: Path, kube: str | None
) -> None:
    validate(kubernetes_validate, default_manifests, tmp_path, kube)


@pytest.mark.parametrize("kube", KUBE_VERSIONS, ids=lambda k: k or "newest")
def test_full_values_render_manifests_kubernetes_accepts(
    full_manifests: list[Manifest], kubernetes_validate: Path, tmp_path: Path, kube: str | None
) -> None:
    validate(kubernetes_validate, full_manifests, tmp_path, kube)


@pytest.mark.parametrize("kube", KUBE_VERSIONS, ids=lambda k: k or "newest")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_security_setups_render_manifests_kubernetes_accepts(
    scenarios: dict[str, list[Manifest]],
    kubernetes_validate: Path,
    tmp_path: Path,
    scenario: str,
    kube: str | None,
) -> None:
    validate(kubernetes_validate, scenarios[scenario], tmp_path, kube)


def test_kubernetes_validate_rejects_an_unknown_field(
    default_manifests: list[Manifest], kubernetes_validate: Path, tmp_path: Path
) -> None:
    # Guards the two tests above: the validator must really be strict.
    broken = json.loads(json.dumps(default_manifests))
    server_container(broken)["livenessProbe"]["grpcc"] = {"port": 50051}
    with pytest.raises(AssertionError, match="kubernetes-validate --strict failed"):
        validate(kubernetes_validate, broken, tmp_path, None)


def test_default_values_render_the_core_resources_only(default_manifests: list[Manifest]) -> None:
    kinds = sorted(m["kind"] for m in default_manifests)
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Pod",
            "Secret",
            "Service",
            "ServiceAccount",
        ]
    )


def test_full_values_render_every_optional_resource(full_manifests: list[Manifest]) -> None:
    kinds = {m["kind"] for m in full_manifests}
    assert {
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceMonitor",
        "Certificate",
    } <= kinds
    one(full_manifests, "ConfigMap", "sessions-authz")
    one(full_manifests, "Service", "sessions-headless")
    # Both Secrets are existing ones, so the chart makes none.
    assert "Secret" not in kinds


def test_service_monitor_scrapes_the_metrics_port_of_the_release(full_manifests: list[Manifest]) -> None:
    monitor = one(full_manifests, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert (
        monitor["spec"]["selector"]["matchLabels"]
        == one(full_manifests, "Service", "sessions")["spec"]["selector"]
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["default"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {
        "port": "metrics",
        "path": "/metrics",
        "scheme": "http",
        "interval": "15s",
        "scrapeTimeout": "5s",
    }
    # The headless Service has no metrics port, so every pod is scraped once.
    headless_ports = one(full_manifests, "Service", "sessions-headless")["spec"]["ports"]
    assert [p["name"] for p in headless_ports] == ["grpc"]


# --- values that must be refused ----------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"config": {"port": "abc"}}, "/config/port"),
        ({"config": {"limitPolicy": "bogus"}}, "/config/limitPolicy"),
        ({"unknownSetting": True}, "additional properties 'unknownSetting' not allowed"),
        ({"config": {"unknownSetting": 1}}, "additional properties 'unknownSetting' not allowed"),
        ({"config": {"logLevel": "TRACE"}}, "/config/logLevel"),
        ({"config": {"jwtAlgorithm": "HS256"}}, "/config/jwtAlgorithm"),
        ({"config": {"accessTokenTtl": 0}}, "/config/accessTokenTtl"),
        ({"config": {"metricsPort": 70000}}, "/config/metricsPort"),
        ({"config": {"shutdownGrace": "ten"}}, "/config/shutdownGrace"),
        ({"redis": {"mode": "sentinel"}}, "/redis/mode"),
        ({"redis": {"url": "http://redis:6379"}}, "/redis/url"),
        ({"redis": {"prefix": "{ss}"}}, "/redis/prefix"),
        ({"keys": {"files": {"bad/kid": "-----BEGIN PUBLIC KEY-----"}}}, "'bad/kid' does not match"),
        ({"keys": {"files": {"k1": "not a pem"}}}, "/keys/files/k1"),
        ({"replicaCount": -1}, "/replicaCount"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"otel": {"protocol": "thrift"}}, "/otel/protocol"),
        ({"probes": {"readiness": {"periodSeconds": 0}}}, "/probes/readiness/periodSeconds"),
        ({"podDisruptionBudget": {"minAvailable": 1}}, "exactly one of maxUnavailable and minAvailable"),
        ({"config": {"idleTimeout": 100, "absoluteTimeout": 50}}, "idleTimeout must not exceed"),
        ({"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}, "minReplicas"),
        ({"config": {"metricsPort": 0}, "metrics": {"serviceMonitor": {"enabled": True}}}, "metricsPort"),
        ({"tls": {"enabled": True}}, "tls.enabled needs a certificate"),
        ({"tls": {"clientAuth": {"enabled": True}}}, "need tls.enabled=true"),
        ({"tls": {"certManager": {"enabled": True, "issuerRef": {"name": "ca"}}}}, "need tls.enabled=true"),
        ({"tls": {"enabled": True, "certManager": {"enabled": True}}}, "issuerRef.name is required"),
        (
            {
                "tls": {
                    "enabled": True,
                    "existingSecret": "s",
                    "certManager": {"enabled": True, "issuerRef": {"name": "ca"}},
                }
            },
            "leave tls.existingSecret empty",
        ),
        ({**TLS_SECRET, "config": {"healthPort": 50051}}, "config.healthPort must differ"),
        ({**TLS_SECRET, "config": {"healthPort": 9464}}, "config.healthPort must differ"),
        ({"tls": {"certManager": {"duration": "90 days"}}}, "/tls/certManager/duration"),
        ({"authz": {"policy": POLICY}}, "an authorization policy needs caller identities"),
        ({"authz": {"existingConfigMap": "p"}}, "an authorization policy needs caller identities"),
        ({**MTLS, "authz": {"policy": POLICY, "existingConfigMap": "p"}}, "set only one"),
        ({**MTLS, "authz": {"policy": {"callers": {"a": ["Delete"]}}}}, "/authz/policy/callers/a"),
        ({**MTLS, "authz": {"policy": {"callers": {"a": []}}}}, "/authz/policy/callers/a"),
        ({**MTLS, "authz": {"policy": {"caller": {"a": ["Get"]}}}}, "invalid propertyName 'caller'"),
        (
            {**MTLS, "authz": {"policy": {"callers": {"a": {"rpcs": ["Get"], "clients": ["x"]}}}}},
            "/authz/policy/callers/a",
        ),
        (
            {"callerTokens": {"enabled": True, "jwksSecret": "j"}},
            "needs callerTokens.issuer and callerTokens.audience",
        ),
        (
            {"callerTokens": {"enabled": True, "issuer": "i", "audience": "a"}},
            "exactly one of callerTokens.jwksSecret and callerTokens.jwksConfigMap",
        ),
        (
            {
                "callerTokens": {
                    "enabled": True,
                    "issuer": "i",
                    "audience": "a",
                    "jwksSecret": "j",
                    "jwksConfigMap": "j",
                }
            },
            "exactly one of callerTokens.jwksSecret and callerTokens.jwksConfigMap",
        ),
        ({"networkPolicy": {"clientLabel": "not a label"}}, "/networkPolicy/clientLabel"),
        # Renamed to extraPeers, whose empty default admits only the labelled clients.
        ({"networkPolicy": {"ingressFrom": []}}, "additional properties 'ingressFrom' not allowed"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else "",
)
def test_invalid_values_are_refused(chart: Chart, values: dict[str, Any], message: str) -> None:
    error = chart.render_error(REQUIRED, values)
    assert message in error, error


def test_redis_url_and_keys_are_required_outside_demo_mode(chart: Chart) -> None:
    assert "redis.url (or redis.existingSecret) is required" in chart.render_error()
    error = chart.render_error({"redis": {"url": "redis://redis:6379/0"}})
    assert "keys.files (or keys.existingSecret) is required" in error
    error = chart.render_error(REQUIRED, {"refreshTokenKeys": {"existingSecret": ""}})
    assert "refreshTokenKeys.keys (or refreshTokenKeys.existingSecret) is required" in error


NO_POLICY_WITH_IDENTITIES = "set authz.policy (or authz.existingConfigMap) to say what each may call"
NO_POLICY_NOR_IDENTITIES = "or set authz.allowUnauthenticatedCallers=true to accept that"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([STORE_AND_KEYS], NO_POLICY_NOR_IDENTITIES),
        ([STORE_AND_KEYS, TLS_SECRET], NO_POLICY_NOR_IDENTITIES),
        ([{"redis": {"embedded": True}, "replicaCount": 1}, TLS_SECRET], NO_POLICY_NOR_IDENTITIES),
        ([STORE_AND_KEYS, MTLS], NO_POLICY_WITH_IDENTITIES),
        ([STORE_AND_KEYS, TLS_SECRET, CALLER_TOKENS], NO_POLICY_WITH_IDENTITIES),
        # The opt-in is for callers nobody identifies: identified ones need a policy.
        ([REQUIRED, MTLS], NO_POLICY_WITH_IDENTITIES),
    ],
    ids=["plaintext", "tls", "demo-tls", "mtls", "caller-tokens", "mtls-opt-in"],
)
def test_an_install_open_to_every_caller_does_not_render(
    chart: Chart, values: list[dict[str, Any]], message: str
) -> None:
    error = chart.render_error(*values)
    assert message in error, error
    assert "the server refuses to start" in error


def test_a_policy_or_the_opt_in_renders_and_the_opt_in_reaches_the_server(chart: Chart) -> None:
    opted_in = configmap_data(chart.render(STORE_AND_KEYS, OPEN_TO_ALL))
    assert opted_in["SESSION_ALLOW_UNAUTHENTICATED_CALLERS"] == "true"
    with_policy = configmap_data(chart.render(STORE_AND_KEYS, MTLS, {"authz": {"policy": POLICY}}))
    assert "SESSION_ALLOW_UNAUTHENTICATED_CALLERS" not in with_policy
    assert with_policy["SESSION_AUTHZ_POLICY_FILE"]
    # The server accepts these settings (with the URL the chart passes from its Secret).
    for data in (opted_in, with_policy):
        env = {k: v for k, v in data.items() if k.startswith(ENV_PREFIX)}
        Settings.from_sources({**env, "SESSION_REDIS_URL": "redis://redis:6379/0"})


def test_embedded_redis_demo_needs_no_redis_url_nor_keys(chart: Chart) -> None:
    manifests = chart.render({"redis": {"embedded": True}, "replicaCount": 1})
    names = [e["name"] for e in server_container(manifests).get("env", [])]
    assert "SESSION_REDIS_URL" not in names
    assert "SESSION_KEYS_DIR" not in configmap_data(manifests)
    assert "SESSION_REFRESH_TOKEN_KEYS_FILE" not in configmap_data(manifests)
    assert not [m for m in manifests if m["kind"] == "Secret"]


@pytest.mark.parametrize(
    "values",
    [
        {"replicaCount": 2},
        {"replicaCount": 1, "autoscaling": {"enabled": True}},
        {"replicaCount": 1, "redis": {"mode": "cluster"}},
        {"replicaCount": 1, "redis": {"url": "redis://redis:6379/0"}},
    ],
    ids=["replicas", "autoscaling", "cluster", "url"],
)
def test_embedded_redis_refuses_settings_that_need_a_shared_redis(
    chart: Chart, values: dict[str, Any]
) -> None:
    assert "redis.embedded" in chart.render_error({"redis": {"embedded": True}}, values)


# --- security -----------------------------------------------------------------------------


def hardened(pod_spec: dict[str, Any]) -> None:
    pod_sc = pod_spec["securityContext"]
    assert pod_sc["runAsNonRoot"] is True
    assert pod_sc["runAsUser"] == 10001
    assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod_spec["automountServiceAccountToken"] is False
    for container in pod_spec["containers"]:
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True
        assert sc["runAsUser"] == 10001
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["resources"]["limits"]["memory"]
        tmp_mounts = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert len(tmp_mounts) == 1
        (tmp_volume,) = [v for v in pod_spec["volumes"] if v["name"] == tmp_mounts[0]["name"]]
        assert "emptyDir" in tmp_volume


def test_server_pods_run_non_root_read_only_without_capabilities(default_manifests: list[Manifest]) -> None:
    hardened(server_pod_spec(default_manifests))
    assert one(default_manifests, "ServiceAccount")["automountServiceAccountToken"] is False


def test_helm_test_pod_is_hardened_like_the_server(default_manifests: list[Manifest]) -> None:
    hardened(one(default_manifests, "Pod")["spec"])


def test_configmap_and_pod_spec_hold_no_secret_values(chart: Chart) -> None:
    private, public = pem_pair()
    url = "redis://app:url-password-123@redis:6379/0"
    password = "redis-password-456"
    manifests = chart.render(
        {
            "redis": {"url": url, "password": password},
            "keys": {"files": {"k1": private, "k0": public}},
            "refreshTokenKeys": {"keys": [REFRESH_KEY]},
            **OPEN_TO_ALL,
        }
    )
    key_body = private.splitlines()[1]
    visible = [*walk_strings(one(manifests, "ConfigMap")), *walk_strings(one(manifests, "Deployment"))]
    for secret in (url, "url-password-123", password, key_body, REFRESH_KEY):
        assert not [s for s in visible if secret in s], f"{secret!r} leaked outside a Secret"
    secrets = {m["metadata"]["name"]: m["data"] for m in manifests if m["kind"] == "Secret"}
    assert base64.b64decode(secrets[f"{FULLNAME}-redis"]["redis-url"]).decode() == url
    assert base64.b64decode(secrets[f"{FULLNAME}-redis"]["redis-password"]).decode() == password
    assert base64.b64decode(secrets[f"{FULLNAME}-keys"]["k1.pem"]).decode() == private
    assert base64.b64decode(secrets[f"{FULLNAME}-keys"]["k0.pem"]).decode() == public


def test_redis_url_comes_from_a_secret_and_the_password_from_a_mounted_file(chart: Chart) -> None:
    manifests = chart.render(REQUIRED, {"redis": {"password": "s3cret"}})
    container = server_container(manifests)
    (url_env,) = [e for e in container["env"] if e["name"] == "SESSION_REDIS_URL"]
    assert url_env["valueFrom"]["secretKeyRef"] == {"name": f"{FULLNAME}-redis", "key": "redis-url"}
    password_file = configmap_data(manifests)["SESSION_REDIS_PASSWORD_FILE"]
    (mount,) = [m for m in container["volumeMounts"] if password_file.startswith(m["mountPath"] + "/")]
    (volume,) = [v for v in server_pod_spec(manifests)["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == f"{FULLNAME}-redis"
    assert volume["secret"]["items"] == [{"key": "redis-password", "path": Path(password_file).name}]


def test_existing_secrets_replace_the_chart_secrets(full_manifests: list[Manifest]) -> None:
    container = server_container(full_manifests)
    (url_env,) = [e for e in container["env"] if e["name"] == "SESSION_REDIS_URL"]
    assert url_env["valueFrom"]["secretKeyRef"] == {"name": "redis-credentials", "key": "url"}
    volumes = {v["name"]: v for v in server_pod_spec(full_manifests)["volumes"]}
    assert volumes["keys"]["secret"]["secretName"] == "session-signing-keys"
    assert volumes["refresh-token-keys"]["secret"]["secretName"] == "session-refresh-token-keys"
    assert volumes["refresh-token-keys"]["secret"]["items"] == [{"key": "keys.txt", "path": "keys"}]
    assert volumes["redis-password"]["secret"]["items"] == [{"key": "password", "path": "password"}]
    assert volumes["redis-ca"]["secret"]["secretName"] == "redis-ca"
    data = configmap_data(full_manifests)
    assert data["SESSION_REDIS_TLS_CA_FILE"] == "/etc/session-service/redis-ca/ca.crt"
    assert data["SESSION_REDIS_MODE"] == "cluster"


def test_signing_keys_are_mounted_as_kid_pem_files(chart: Chart) -> None:
    new_private, _ = pem_pair()
    _, old_public = pem_pair()
    manifests = chart.render(
        {
            "redis": {"url": "redis://redis:6379/0"},
            "keys": {"signingKeyId": "k2", "files": {"k2": new_private, "k1": old_public}},
            "refreshTokenKeys": {"keys": [REFRESH_KEY]},
            **OPEN_TO_ALL,
        }
    )
    data = configmap_data(manifests)
    assert data["SESSION_SIGNING_KEY_ID"] == "k2"
    keys_dir = data["SESSION_KEYS_DIR"]
    (mount,) = [m for m in server_container(manifests)["volumeMounts"] if m["mountPath"] == keys_dir]
    assert mount["readOnly"] is True
    (volume,) = [v for v in server_pod_spec(manifests)["volumes"] if v["name"] == mount["name"]]
    secret = one(manifests, "Secret", volume["secret"]["secretName"])
    assert sorted(secret["data"]) == ["k1.pem", "k2.pem"]


def test_refresh_token_keys_are_one_mounted_file_every_replica_shares(chart: Chart) -> None:
    new = base64.urlsafe_b64encode(bytes(range(1, 33))).rstrip(b"=").decode()
    manifests = chart.render(
        REQUIRED, {"refreshTokenKeys": {"existingSecret": "", "keys": [new, REFRESH_KEY]}}
    )
    keys_file = configmap_data(manifests)["SESSION_REFRESH_TOKEN_KEYS_FILE"]
    (mount,) = [
        m for m in server_container(manifests)["volumeMounts"] if keys_file.startswith(m["mountPath"] + "/")
    ]
    assert mount["readOnly"] is True
    (volume,) = [v for v in server_pod_spec(manifests)["volumes"] if v["name"] == mount["name"]]
    secret = one(manifests, "Secret", volume["secret"]["secretName"])
    (item,) = volume["secret"]["items"]
    assert item["path"] == Path(keys_file).name
    # The file the server reads: the first key MACs, both verify (tokens/refresh.py).
    assert base64.b64decode(secret["data"][item["key"]]).decode() == f"{new}\n{REFRESH_KEY}\n"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"refreshTokenKeys": {"keys": [REFRESH_KEY]}}, "refreshTokenKeys.existingSecret replaces"),
        ({"refreshTokenKeys": {"existingSecret": "", "keys": ["c2hvcnQ="]}}, "/refreshTokenKeys/keys/0"),
    ],
)
def test_refresh_token_keys_are_one_source_of_long_enough_keys(
    chart: Chart, values: dict[str, Any], message: str
) -> None:
    assert message in chart.render_error(REQUIRED, values)


def test_a_null_key_file_retires_that_kid(chart: Chart) -> None:
    # Step 3 of the rotation in the chart's README: --set keys.files.<kid>=null over earlier values.
    new_private, _ = pem_pair()
    _, old_public = pem_pair()
    earlier = {
        "redis": {"url": "redis://redis:6379/0"},
        "keys": {"signingKeyId": "k2", "files": {"k2": new_private, "k1": old_public}},
        "refreshTokenKeys": {"keys": [REFRESH_KEY]},
        **OPEN_TO_ALL,
    }
    manifests = chart.render(earlier, {"keys": {"files": {"k1": None}}})
    assert sorted(one(manifests, "Secret", f"{FULLNAME}-keys")["data"]) == ["k2.pem"]


def test_signing_key_id_must_name_a_private_key(chart: Chart) -> None:
    private, public = pem_pair()
    files = {"k1": private, "k2": public}
    keys = {"existingSecret": "", "signingKeyId": "k2", "files": files}
    error = chart.render_error(REQUIRED, {"keys": keys})
    assert 'keys.signingKeyId "k2" must name a private key' in error
    error = chart.render_error(REQUIRED, {"keys": {"existingSecret": "", "files": {"k1": public}}})
    assert "no private key" in error


def test_several_private_keys_need_a_signing_key_id(chart: Chart) -> None:
    files = {"k1": pem_pair()[0], "k2": pem_pair()[0]}
    error = chart.render_error(REQUIRED, {"keys": {"existingSecret": "", "files": files}})
    assert "set keys.signingKeyId" in error


# --- probes, rollout and shutdown -------------------------------------------------------


def test_probes_are_native_grpc_health_checks_on_the_server_port_without_tls(
    default_manifests: list[Manifest],
) -> None:
    container = server_container(default_manifests)
    port = int(configmap_data(default_manifests)["SESSION_PORT"])
    assert {"name": "grpc", "containerPort": port, "protocol": "TCP"} in container["ports"]
    assert "SESSION_HEALTH_PORT" not in configmap_data(default_manifests)
    assert [p["name"] for p in container["ports"]] == ["grpc", "metrics"]
    for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
        probe = container[probe_name]
        assert set(probe) & {"exec", "httpGet", "tcpSocket"} == set(), probe_name
        assert probe["grpc"]["port"] == port, probe_name
    assert container["readinessProbe"]["grpc"]["service"] == HEALTH_SERVICE
    assert "service" not in container["livenessProbe"]["grpc"]


def test_changing_a_setting_rolls_the_pods_through_the_config_checksum(chart: Chart) -> None:
    before = pod_annotations(chart.render(REQUIRED))
    after = pod_annotations(chart.render(REQUIRED, {"config": {"logLevel": "DEBUG"}}))
    assert after["checksum/config"] != before["checksum/config"]
    assert after["checksum/secret"] == before["checksum/secret"]
    assert re.fullmatch(r"[0-9a-f]{64}", after["checksum/config"])


def test_changing_keys_or_redis_url_rolls_the_pods_through_the_secret_checksum(chart: Chart) -> None:
    private, public = pem_pair()
    base: dict[str, Any] = {
        "redis": {"url": "redis://redis:6379/0"},
        "keys": {"files": {"k1": private}},
        "refreshTokenKeys": {"keys": [REFRESH_KEY]},
        **OPEN_TO_ALL,
    }
    before = pod_annotations(chart.render(base))
    with_verify_key = pod_annotations(chart.render(base, {"keys": {"files": {"k2": public}}}))
    other_redis = pod_annotations(chart.render(base, {"redis": {"url": "redis://other:6379/0"}}))
    new_refresh_key = pod_annotations(
        chart.render(base, {"refreshTokenKeys": {"keys": [REFRESH_KEY.lower()]}})
    )
    for after in (with_verify_key, other_redis, new_refresh_key):
        assert after["checksum/secret"] != before["checksum/secret"]
        assert after["checksum/config"] == before["checksum/config"]


@pytest.mark.parametrize(("shutdown_grace", "pre_stop"), [(10, 0), (20.5, 0), (0, 0), (30, 7)], ids=str)
def test_termination_grace_outlasts_the_drain(chart: Chart, shutdown_grace: float, pre_stop: int) -> None:
    manifests = chart.render(
        REQUIRED,
        {"config": {"shutdownGrace": shutdown_grace}, "termination": {"preStopSleepSeconds": pre_stop}},
    )
    assert float(configmap_data(manifests)["SESSION_SHUTDOWN_GRACE"]) == shutdown_grace
    grace = server_pod_spec(manifests)["terminationGracePeriodSeconds"]
    assert isinstance(grace, int)
    assert grace > shutdown_grace + pre_stop
    container = server_container(manifests)
    if pre_stop:
        assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(pre_stop)]
    else:
        assert "lifecycle" not in container


def test_rolling_update_keeps_full_capacity(default_manifests: list[Manifest]) -> None:
    strategy = one(default_manifests, "Deployment")["spec"]["strategy"]
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0


def test_autoscaling_owns_the_replica_count(
    default_manifests: list[Manifest], full_manifests: list[Manifest]
) -> None:
    assert one(default_manifests, "Deployment")["spec"]["replicas"] == 2
    assert "replicas" not in one(full_manifests, "Deployment")["spec"]
    hpa = one(full_manifests, "HorizontalPodAutoscaler")
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sessions"}
    assert hpa["spec"]["scaleTargetRef"] == target
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    assert one(full_manifests, "PodDisruptionBudget")["spec"]["minAvailable"] == "50%"


def test_topology_spread_constraints_get_the_pod_selector(full_manifests: list[Manifest]) -> None:
    zone, host = server_pod_spec(full_manifests)["topologySpreadConstraints"]
    selector = one(full_manifests, "Deployment")["spec"]["selector"]
    assert zone["labelSelector"] == selector
    assert host["labelSelector"] == {"matchLabels": {"app.kubernetes.io/name": "session-service"}}


# --- configuration and wiring -----------------------------------------------------------


def test_configmap_carries_every_setting_from_values(full_manifests: list[Manifest]) -> None:
    expected = {
        "SESSION_PORT": "50052",
        "SESSION_METRICS_PORT": "9465",
        "SESSION_LOG_LEVEL": "WARNING",
        "SESSION_ISSUER": "https://auth.example.com",
        "SESSION_AUDIENCE": "api.example.com",
        "SESSION_ACCESS_TOKEN_TTL": "300",
        "SESSION_IDLE_TIMEOUT": "3600",
        "SESSION_ABSOLUTE_TIMEOUT": "604800",
        "SESSION_REFRESH_GRACE": "2.5",
        "SESSION_MAX_SESSIONS_PER_USER": "5",
        "SESSION_LIMIT_POLICY": "reject-new",
        "SESSION_SHUTDOWN_GRACE": "20.5",
        "SESSION_REDIS_PREFIX": "sessions",
        "SESSION_REDIS_TIMEOUT": "0.5",
        "SESSION_SIGNING_KEY_ID": "key-2025-06",
        "SESSION_REFRESH_TOKEN_KEYS_FILE": "/etc/session-service/refresh-token-keys/keys",
        "OTEL_SERVICE_NAME": "session-service",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability:4317",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=production,service.namespace=platform",
        "SESSION_HEALTH_PORT": "50053",
        "SESSION_TLS_CERT_FILE": "/etc/session-service/tls/tls.crt",
        "SESSION_TLS_KEY_FILE": "/etc/session-service/tls/tls.key",
        "SESSION_TLS_CLIENT_CA_FILE": "/etc/session-service/client-ca/bundle.pem",
        "SESSION_CALLER_JWKS_FILE": "/etc/session-service/caller-jwks/keys.json",
        "SESSION_CALLER_ISSUER": "https://kubernetes.default.svc.cluster.example",
        "SESSION_CALLER_AUDIENCE": "sessions.platform",
        "SESSION_AUTHZ_POLICY_FILE": "/etc/session-service/authz/policy.json",
    }
    data = configmap_data(full_manifests)
    assert {name: data.get(name) for name in expected} == expected
    assert all(isinstance(v, str) for v in data.values())
    container = server_container(full_manifests)
    assert container["envFrom"] == [{"configMapRef": {"name": "sessions"}}]
    assert {"name": "SESSION_JWT_LEEWAY", "value": "10"} in container["env"]


@pytest.mark.parametrize(
    ("values", "workers"),
    [
        ({}, "1"),  # no CPU limit: one worker
        ({"resources": {"limits": {"cpu": 2, "memory": "256Mi"}}}, "2"),
        ({"resources": {"limits": {"cpu": "1500m", "memory": "256Mi"}}}, "2"),
        ({"resources": {"limits": {"cpu": "0.5", "memory": "256Mi"}}}, "1"),
        ({"resources": {"limits": {"cpu": "4", "memory": "256Mi"}}, "config": {"workers": 3}}, "3"),
    ],
)
def test_workers_follow_the_cpu_limit_unless_set(chart: Chart, values: dict[str, Any], workers: str) -> None:
    assert configmap_data(chart.render(REQUIRED, values))["SESSION_WORKERS"] == workers


def test_chart_defaults_match_the_service_defaults(default_manifests: list[Manifest]) -> None:
    service_defaults: dict[str, Any] = {
        ENV_PREFIX + f.name.upper(): f.default for f in dataclasses.fields(Settings)
    }
    data = configmap_data(default_manifests)
    # Set on purpose: where the chart mounts the keys, and the install's opt-in (REQUIRED).
    chart_specific = {
        "SESSION_KEYS_DIR",
        "SESSION_REFRESH_TOKEN_KEYS_FILE",
        "SESSION_ALLOW_UNAUTHENTICATED_CALLERS",
    }
    compared = [name for name in data if name in service_defaults and name not in chart_specific]
    assert len(compared) >= 15, compared
    for name in compared:
        default = service_defaults[name]
        assert type(default)(data[name]) == default, f"{name}: chart {data[name]!r}, service {default!r}"
    assert data["OTEL_TRACES_EXPORTER"] == "none"
    assert "SESSION_SIGNING_KEY_ID" not in data
    assert "SESSION_REDIS_PASSWORD_FILE" not in data


def test_service_exposes_grpc_with_app_protocol_and_metrics(
    default_manifests: list[Manifest], full_manifests: list[Manifest]
) -> None:
    service = one(default_manifests, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "grpc", "port": 50051, "targetPort": "grpc", "protocol": "TCP", "appProtocol": "grpc"},
        {"name": "metrics", "port": 9464, "targetPort": "metrics", "protocol": "TCP", "appProtocol": "http"},
    ]
    full_ports = {p["name"]: p["port"] for p in one(full_manifests, "Service", "sessions")["spec"]["ports"]}
    # With TLS on, the plaintext health port is on the Service too, for "helm test".
    assert full_ports == {"grpc": 443, "health": 50053, "metrics": 9090}
    container_ports = {p["name"]: p["containerPort"] for p in server_container(full_manifests)["ports"]}
    assert container_ports == {"grpc": 50052, "health": 50053, "metrics": 9465, "signals": 8443}


def test_metrics_port_zero_removes_the_metrics_ports(chart: Chart) -> None:
    manifests = chart.render(REQUIRED, {"config": {"metricsPort": 0}})
    assert [p["name"] for p in one(manifests, "Service")["spec"]["ports"]] == ["grpc"]
    assert [p["name"] for p in server_container(manifests)["ports"]] == ["grpc"]
    assert configmap_data(manifests)["SESSION_METRICS_PORT"] == "0"


def test_image_digest_wins_over_the_tag(
    default_manifests: list[Manifest], full_manifests: list[Manifest]
) -> None:
    assert server_container(default_manifests)["image"] == "session-service:0.1.0"
    assert server_container(full_manifests)["image"].startswith(
        "registry.example.com/platform/session-service@sha256:"
    )


def test_network_policy_admits_clients_and_reaches_redis_dns_and_otlp(full_manifests: list[Manifest]) -> None:
    policy = one(full_manifests, "NetworkPolicy", "sessions")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    grpc_rule, metrics_rule = policy["ingress"]
    assert grpc_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}, {"port": "health", "protocol": "TCP"}]
    assert grpc_rule["from"] == [
        {"podSelector": {"matchLabels": {"platform.example.com/session-client": "true"}}},
        {"namespaceSelector": {"matchLabels": {"example.com/gateway": "true"}}},
    ]
    assert metrics_rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    egress_ports = [sorted(p["port"] for p in rule["ports"]) for rule in policy["egress"]]
    assert egress_ports == [[53, 53], [6379, 6380], [4317], [8443]]
    test_pod_labels = one(full_manifests, "Pod")["metadata"]["labels"]
    assert test_pod_labels["platform.example.com/session-client"] == "true"


def test_helm_test_pod_runs_the_healthcheck_against_the_service(full_manifests: list[Manifest]) -> None:
    pod = one(full_manifests, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["image"] == server_container(full_manifests)["image"]
    # The healthcheck speaks plaintext: with TLS on it checks the Service's health port.
    assert container["args"] == ["healthcheck", "--target", "sessions:50053"]
    assert pod["spec"]["restartPolicy"] == "Never"
    # The Service must never send traffic to the test pod.
    selector = one(full_manifests, "Service", "sessions")["spec"]["selector"]
    assert not selector.items() <= pod["metadata"]["labels"].items()


def test_notes_show_port_forward_and_a_grpcurl_create_call(chart: Chart) -> None:
    result = chart.run("install", "--dry-run=client", RELEASE, str(CHART), values=[REQUIRED])
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert f"kubectl port-forward --namespace default svc/{FULLNAME} 50051:50051" in notes
    assert (
        """grpcurl -plaintext -d '{"user_id":"alice"}' localhost:50051 session.v1.SessionService/Create"""
        in notes
    )
    assert f"helm test {RELEASE}" in notes


# --- TLS, caller identity, authorization and network policy ------------------------------


def mounted_file(manifests: list[Manifest], path: str) -> tuple[dict[str, Any], str]:
    """The pod volume that holds the file at ``path`` and the key it comes from.

    Fails unless a read-only mount of the whole volume (never subPath, which would stop
    Secret and ConfigMap updates from reaching the file) covers the path.
    """
    (mount,) = [
        m for m in server_container(manifests)["volumeMounts"] if path.startswith(m["mountPath"] + "/")
    ]
    assert mount["readOnly"] is True
    assert "subPath" not in mount
    (volume,) = [v for v in server_pod_spec(manifests)["volumes"] if v["name"] == mount["name"]]
    source = volume.get("secret") or volume.get("configMap")
    assert source is not None, volume
    relative = path[len(mount["mountPath"]) + 1 :]
    (item,) = [i for i in source["items"] if i["path"] == relative]
    return volume, item["key"]


def notes(chart: Chart, *values: dict[str, Any]) -> str:
    result = chart.run("install", "--dry-run=client", RELEASE, str(CHART), values=values)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("NOTES:", 1)[1]


def test_tls_from_an_existing_secret_mounts_certificate_and_key(scenarios: dict[str, list[Manifest]]) -> None:
    manifests = scenarios["tls-existing-secret"]
    data = configmap_data(manifests)
    for setting, key in (("SESSION_TLS_CERT_FILE", "tls.crt"), ("SESSION_TLS_KEY_FILE", "tls.key")):
        volume, secret_key = mounted_file(manifests, data[setting])
        assert volume["secret"]["secretName"] == "session-tls"
        assert secret_key == key
    assert [i["key"] for i in volume["secret"]["items"]] == ["tls.crt", "tls.key"]
    assert "SESSION_TLS_CLIENT_CA_FILE" not in data
    assert not [m for m in manifests if m["kind"] == "Certificate"]


@pytest.mark.parametrize("scenario", ["tls-existing-secret", "cert-manager", "mtls"])
def test_probes_use_the_plaintext_health_port_when_tls_is_on(
    scenarios: dict[str, list[Manifest]], scenario: str
) -> None:
    manifests = scenarios[scenario]
    data = configmap_data(manifests)
    health_port = int(data["SESSION_HEALTH_PORT"])
    assert health_port == 50052
    assert health_port != int(data["SESSION_PORT"])
    container = server_container(manifests)
    assert {"name": "health", "containerPort": health_port, "protocol": "TCP"} in container["ports"]
    for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe_name]["grpc"]["port"] == health_port, probe_name
    assert container["readinessProbe"]["grpc"]["service"] == HEALTH_SERVICE
    assert "service" not in container["livenessProbe"]["grpc"]
    assert "service" not in container["startupProbe"]["grpc"]
    # "helm test" speaks plaintext too: it asks the health port through the Service.
    service_ports = {p["name"]: p for p in one(manifests, "Service", FULLNAME)["spec"]["ports"]}
    assert service_ports["health"]["port"] == health_port
    assert service_ports["health"]["targetPort"] == "health"
    test_args = one(manifests, "Pod")["spec"]["containers"][0]["args"]
    assert test_args == ["healthcheck", "--target", f"{FULLNAME}:{health_port}"]


def test_cert_manager_issues_the_certificate_the_pods_mount(scenarios: dict[str, list[Manifest]]) -> None:
    manifests = scenarios["cert-manager"]
    certificate = one(manifests, "Certificate")
    assert certificate["apiVersion"] == "cert-manager.io/v1"
    assert certificate["metadata"]["name"] == FULLNAME
    spec = certificate["spec"]
    volume, _ = mounted_file(manifests, configmap_data(manifests)["SESSION_TLS_CERT_FILE"])
    assert spec["secretName"] == volume["secret"]["secretName"] == f"{FULLNAME}-tls"
    assert spec["issuerRef"] == {"name": "internal-ca", "kind": "Issuer", "group": "cert-manager.io"}
    names = [
        f"{service}{suffix}"
        for service in (FULLNAME, f"{FULLNAME}-headless")
        for suffix in ("", ".default", ".default.svc", ".default.svc.cluster.local")
    ]
    assert spec["dnsNames"] == [*names, "sessions.example.com"]
    assert (spec["duration"], spec["renewBefore"]) == ("2160h", "360h")
    assert spec["privateKey"] == {"algorithm": "ECDSA", "rotationPolicy": "Always"}
    assert spec["usages"] == ["digital signature", "server auth"]
    assert set(certificate) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(spec) == {
        "secretName",
        "secretTemplate",
        "issuerRef",
        "dnsNames",
        "duration",
        "renewBefore",
        "privateKey",
        "usages",
    }


def test_full_values_certificate_uses_the_cluster_domain_and_issuer(full_manifests: list[Manifest]) -> None:
    spec = one(full_manifests, "Certificate")["spec"]
    assert spec["issuerRef"] == {"name": "platform-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert "sessions.default.svc.cluster.example" in spec["dnsNames"]
    assert "sessions-headless.default.svc.cluster.example" in spec["dnsNames"]
    assert spec["privateKey"]["algorithm"] == "RSA"


def test_mtls_verifies_clients_with_the_ca_of_the_tls_secret(scenarios: dict[str, list[Manifest]]) -> None:
    manifests = scenarios["mtls"]
    volume, key = mounted_file(manifests, configmap_data(manifests)["SESSION_TLS_CLIENT_CA_FILE"])
    assert (volume["secret"]["secretName"], key) == ("session-tls", "ca.crt")


def test_mtls_client_ca_may_come_from_its_own_secret(scenarios: dict[str, list[Manifest]]) -> None:
    manifests = scenarios["client-ca-secret"]
    data = configmap_data(manifests)
    volume, key = mounted_file(manifests, data["SESSION_TLS_CLIENT_CA_FILE"])
    assert (volume["secret"]["secretName"], key) == ("client-ca", "ca.pem")
    tls_volume, _ = mounted_file(manifests, data["SESSION_TLS_CERT_FILE"])
    assert [i["key"] for i in tls_volume["secret"]["items"]] == ["tls.crt", "tls.key"]


def test_policy_is_mounted_as_json_the_server_accepts(scenarios: dict[str, list[Manifest]]) -> None:
    manifests = scenarios["mtls-policy"]
    path = configmap_data(manifests)["SESSION_AUTHZ_POLICY_FILE"]
    assert path.endswith(".json")
    volume, key = mounted_file(manifests, path)
    configmap = one(manifests, "ConfigMap", volume["configMap"]["name"])
    assert configmap["metadata"]["name"] == f"{FULLNAME}-authz"
    document = configmap["data"][key]
    assert json.loads(document) == POLICY
    policy = parse_policy(document.encode(), yaml_allowed=False, rpc_names=POLICY_RPCS)
    assert policy.callers["system:serviceaccount:shop:cart"].client_ids == frozenset({"web"})


def test_changing_the_policy_changes_the_authz_checksum_only(chart: Chart) -> None:
    base = [REQUIRED, MTLS, {"authz": {"policy": POLICY}}]
    before = pod_annotations(chart.render(*base))
    same = pod_annotations(chart.render(*base))
    narrower = {"callers": {"spiffe://cluster.local/ns/auth/sa/login": ["Create"]}}
    after = pod_annotations(chart.render(*base, {"authz": {"policy": narrower}}))
    assert re.fullmatch(r"[0-9a-f]{64}", before["checksum/authz"])
    assert same["checksum/authz"] == before["checksum/authz"]
    assert after["checksum/authz"] != before["checksum/authz"]
    assert after["checksum/config"] == before["checksum/config"]
    assert after["checksum/secret"] == before["checksum/secret"]


def test_no_policy_mounts_nothing_and_sets_no_policy_file(default_manifests: list[Manifest]) -> None:
    assert "SESSION_AUTHZ_POLICY_FILE" not in configmap_data(default_manifests)
    assert "checksum/authz" not in pod_annotations(default_manifests)
    assert [m["metadata"]["name"] for m in default_manifests if m["kind"] == "ConfigMap"] == [FULLNAME]


def test_an_existing_policy_configmap_is_mounted_under_its_key(scenarios: dict[str, list[Manifest]]) -> None:
    manifests = scenarios["caller-tokens-policy-configmap"]
    path = configmap_data(manifests)["SESSION_AUTHZ_POLICY_FILE"]
    # The file keeps the key's name, whose suffix tells the server JSON from YAML.
    assert path.endswith("/policy.yaml")
    volume, key = mounted_file(manifests, path)
    assert (volume["configMap"]["name"], key) == ("session-authz", "policy.yaml")
    assert "checksum/authz" not in pod_annotations(manifests)
    assert [m["metadata"]["name"] for m in manifests if m["kind"] == "ConfigMap"] == [FULLNAME]


@pytest.mark.parametrize(
    ("scenario", "source"),
    [("caller-tokens-policy-configmap", "configMap"), ("caller-tokens-secret", "secret")],
)
def test_caller_tokens_are_verified_against_the_mounted_jwks(
    scenarios: dict[str, list[Manifest]], scenario: str, source: str
) -> None:
    manifests = scenarios[scenario]
    data = configmap_data(manifests)
    assert data["SESSION_CALLER_ISSUER"] == "https://kubernetes.default.svc.cluster.local"
    assert data["SESSION_CALLER_AUDIENCE"] == "session-service"
    volume, key = mounted_file(manifests, data["SESSION_CALLER_JWKS_FILE"])
    assert key == "jwks.json"
    assert source in volume
    # The pods themselves still mount no service-account token.
    assert server_pod_spec(manifests)["automountServiceAccountToken"] is False


def test_schema_knows_exactly_the_rpc_names_the_server_accepts() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert set(schema["definitions"]["rpcName"]["enum"]) == {"*", *POLICY_RPCS}


def test_network_policy_is_on_by_default_and_admits_only_labelled_clients(
    default_manifests: list[Manifest],
) -> None:
    policy = one(default_manifests, "NetworkPolicy")["spec"]
    assert policy["podSelector"] == one(default_manifests, "Deployment")["spec"]["selector"]
    grpc_rule, metrics_rule = policy["ingress"]
    # No health port while TLS is off, and kubelet probes need no rule.
    assert grpc_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    assert grpc_rule["from"] == [{"podSelector": {"matchLabels": {f"{FULLNAME}-client": "true"}}}]
    assert metrics_rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert one(default_manifests, "Pod")["metadata"]["labels"][f"{FULLNAME}-client"] == "true"


def test_network_policy_admits_the_configured_label_and_extra_peers(
    scenarios: dict[str, list[Manifest]],
) -> None:
    manifests = scenarios["network-policy-peers"]
    grpc_rule = one(manifests, "NetworkPolicy")["spec"]["ingress"][0]
    assert grpc_rule["from"] == [
        {"podSelector": {"matchLabels": {"example.com/sessions": "true"}}},
        GATEWAY_PEER,
    ]
    assert one(manifests, "Pod")["metadata"]["labels"]["example.com/sessions"] == "true"


def test_network_policy_admits_clients_to_the_health_port_when_tls_is_on(
    scenarios: dict[str, list[Manifest]],
) -> None:
    grpc_rule = one(scenarios["mtls"], "NetworkPolicy")["spec"]["ingress"][0]
    assert grpc_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}, {"port": "health", "protocol": "TCP"}]


def test_default_client_label_stays_a_valid_label_key_for_long_names(chart: Chart) -> None:
    manifests = chart.render(REQUIRED, {"fullnameOverride": "s" * 63})
    (key,) = one(manifests, "NetworkPolicy")["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert len(key) <= 63
    assert key == "s" * 56 + "-client"


def test_notes_warn_without_tls_or_policy(chart: Chart) -> None:
    text = notes(chart, REQUIRED)
    assert "WARNING: TLS IS OFF" in text
    assert "WARNING: NO AUTHORIZATION POLICY" in text
    assert "as authz.allowUnauthenticatedCallers=true allows" in text
    assert f"pods in namespace default labelled {FULLNAME}-client=true" in text
    tls_only = notes(chart, REQUIRED, TLS_SECRET)
    assert "TLS IS OFF" not in tls_only
    assert "NO AUTHORIZATION POLICY" in tls_only


def test_notes_show_tls_commands_and_no_warning_with_mtls_and_a_policy(chart: Chart) -> None:
    text = notes(chart, *SCENARIOS["mtls-policy"])
    assert "WARNING" not in text
    ca_command = "kubectl get secret --namespace default session-tls -o jsonpath='{.data.ca\\.crt}'"
    assert f"{ca_command} | base64 -d > ca.crt" in text
    flags = f"-cacert ca.crt -authority {FULLNAME}.default.svc -cert client.crt -key client.key"
    assert (
        f"""grpcurl {flags} -d '{{"user_id":"alice"}}' localhost:50051 session.v1.SessionService/Create"""
        in text
    )
    assert "-plaintext" not in text
    assert "health port 50052" in text


def test_notes_show_a_caller_token_command_with_caller_tokens(chart: Chart) -> None:
    text = notes(chart, REQUIRED, TLS_SECRET, CALLER_TOKENS, {"authz": {"policy": POLICY}})
    assert "WARNING" not in text
    assert (
        "TOKEN=$(kubectl create token SERVICE_ACCOUNT --namespace default --audience session-service)" in text
    )
    assert (
        'grpcurl -cacert ca.crt -authority rel-session-service.default.svc -H "authorization: Bearer $TOKEN"'
        in text
    )


# --- values.yaml and its schema -----------------------------------------------------------


def test_every_value_is_documented_and_described_by_the_schema() -> None:
    values_text = (CHART / "values.yaml").read_text()
    schema = json.loads((CHART / "values.schema.json").read_text())
    documented = {path: bool(lines) for path, lines in value_comments(values_text).items()}
    schema_paths = chart_defined_paths(schema, schema["definitions"])

    def value_paths(node: dict[str, Any], prefix: str = "") -> Iterator[str]:
        for key, value in node.items():
            yield prefix + key
            if schema_paths.get(prefix + key) and isinstance(value, dict):
                yield from value_paths(value, prefix + key + ".")

    missing_in_schema = [p for p in value_paths(yaml.safe_load(values_text)) if p not in schema_paths]
    assert not missing_in_schema, f"values without a schema entry: {missing_in_schema}"
    undocumented = sorted(p for p in schema_paths if not documented.get(p, True))
    assert not undocumented, f"values without a comment where declared: {undocumented}"
    not_in_values = sorted(set(schema_paths) - set(documented))
    assert not not_in_values, f"schema entries missing from values.yaml: {not_in_values}"


def test_chart_readme_lists_every_value_as_values_yaml_documents_it() -> None:
    readme = README.read_text()
    assert readme == readme_with_table(readme), (
        "stale values table: run python -m tests.deploy.chart_values_doc"
    )
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for top_level in values:
        assert f"| `{top_level}" in readme, top_level


def test_signals_port_has_its_own_service_and_network_policy(full_manifests: list[Manifest]) -> None:
    service = one(full_manifests, "Service", "sessions-signals")
    assert service["spec"]["ports"] == [
        {"name": "signals", "port": 443, "targetPort": "signals", "protocol": "TCP", "appProtocol": "https"}
    ]
    assert {"name": "signals", "containerPort": 8443, "protocol": "TCP"} in server_container(full_manifests)[
        "ports"
    ]
    policy = one(full_manifests, "NetworkPolicy", "sessions-signals")["spec"]
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"port": "signals", "protocol": "TCP"}]
    assert ingress["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    (egress,) = policy["egress"]
    assert [p["port"] for p in egress["ports"]] == [443, 8443]
    # The release's main policy does not open the signals port to its gRPC clients.
    main = one(full_manifests, "NetworkPolicy", "sessions")["spec"]
    assert all(p["port"] != "signals" for rule in main["ingress"] for p in rule["ports"])


def test_signals_settings_and_files_reach_the_server(full_manifests: list[Manifest], tmp_path: Path) -> None:
    data = configmap_data(full_manifests)
    assert data["SESSION_SIGNALS_PORT"] == "8443"
    assert data["SESSION_SIGNALS_MAX_TOKEN_AGE"] == "120"
    assert data["SESSION_SSF_TRANSMITTERS_FILE"] == "/etc/session-service/ssf/transmitters.yaml"
    # The whole Secret: the transmitters file names the bearer token files beside it.
    (mount,) = [m for m in server_container(full_manifests)["volumeMounts"] if m["name"] == "ssf"]
    assert (mount["mountPath"], mount["readOnly"]) == ("/etc/session-service/ssf", True)
    (volume,) = [v for v in server_pod_spec(full_manifests)["volumes"] if v["name"] == "ssf"]
    assert volume["secret"] == {"secretName": "ssf-transmitters", "defaultMode": 0o440}
    path = data["SESSION_OIDC_LOGOUT_ISSUERS_FILE"]
    volume, key = mounted_file(full_manifests, path)
    document = one(full_manifests, "ConfigMap", volume["configMap"]["name"])["data"][key]
    (tmp_path / key).write_text(document)
    issuers = load_issuers(tmp_path / key, LOGOUT_ISSUERS_SETTING)
    assert issuers["https://idp.example.com/realms/main"].audience == "orders-web"
    assert "checksum/signals" in pod_annotations(full_manifests)


def test_the_ssf_receivers_secret_reaches_the_server_whole(full_manifests: list[Manifest]) -> None:
    data = configmap_data(full_manifests)
    assert data["SESSION_SSF_RECEIVERS_FILE"] == "/etc/session-service/ssf-receivers/receivers.yaml"
    # The whole Secret: the receivers file names the bearer token and CA files beside it.
    (mount,) = [m for m in server_container(full_manifests)["volumeMounts"] if m["name"] == "ssf-receivers"]
    assert (mount["mountPath"], mount["readOnly"]) == ("/etc/session-service/ssf-receivers", True)
    (volume,) = [v for v in server_pod_spec(full_manifests)["volumes"] if v["name"] == "ssf-receivers"]
    assert volume["secret"] == {"secretName": "ssf-receivers", "defaultMode": 0o440}


def test_no_signals_port_renders_no_signals_resources(default_manifests: list[Manifest]) -> None:
    assert not [m for m in default_manifests if m["metadata"]["name"].endswith("-signals")]
    assert "SESSION_SIGNALS_PORT" not in configmap_data(default_manifests)
    assert all(p["name"] != "signals" for p in server_container(default_manifests)["ports"])
