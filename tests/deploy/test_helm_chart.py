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

from session_service.config import ENV_PREFIX, Settings

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "session-service"
VALUES_FULL = Path(__file__).with_name("values-full.yaml")
RELEASE = "rel"
FULLNAME = "rel-session-service"
# The least a production install must set: where Redis is, and the signing keys.
REQUIRED: dict[str, Any] = {
    "redis": {"url": "redis://redis:6379/0"},
    "keys": {"existingSecret": "session-keys"},
}
# The chart's minimum (native gRPC probes are GA from 1.27) and the newest bundled schemas.
KUBE_VERSIONS = ["1.27.0", None]
HEALTH_SERVICE = "session.v1.SessionService"

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
    data: dict[str, str] = one(manifests, "ConfigMap")["data"]
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


def validate(kubernetes_validate: Path, manifests: list[Manifest], tmp: Path, kube: str | None) -> None:
    path = tmp / "rendered.yaml"
    path.write_text(yaml.safe_dump_all(manifests))
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
    # ServiceMonitor is a CRD kubernetes-validate has no schema for: checked on its own below.
    built_in = [m for m in full_manifests if m["kind"] != "ServiceMonitor"]
    validate(kubernetes_validate, built_in, tmp_path, kube)


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
        ["ConfigMap", "Deployment", "PodDisruptionBudget", "Pod", "Secret", "Service", "ServiceAccount"]
    )


def test_full_values_render_every_optional_resource(full_manifests: list[Manifest]) -> None:
    kinds = {m["kind"] for m in full_manifests}
    assert {"HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"} <= kinds
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


def test_embedded_redis_demo_needs_no_redis_url_nor_keys(chart: Chart) -> None:
    manifests = chart.render({"redis": {"embedded": True}, "replicaCount": 1})
    names = [e["name"] for e in server_container(manifests).get("env", [])]
    assert "SESSION_REDIS_URL" not in names
    assert "SESSION_KEYS_DIR" not in configmap_data(manifests)
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
        {"redis": {"url": url, "password": password}, "keys": {"files": {"k1": private, "k0": public}}}
    )
    key_body = private.splitlines()[1]
    visible = [*walk_strings(one(manifests, "ConfigMap")), *walk_strings(one(manifests, "Deployment"))]
    for secret in (url, "url-password-123", password, key_body):
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


def test_a_null_key_file_retires_that_kid(chart: Chart) -> None:
    # Step 3 of the rotation in the chart's README: --set keys.files.<kid>=null over earlier values.
    new_private, _ = pem_pair()
    _, old_public = pem_pair()
    earlier = {
        "redis": {"url": "redis://redis:6379/0"},
        "keys": {"signingKeyId": "k2", "files": {"k2": new_private, "k1": old_public}},
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


@pytest.mark.parametrize("which", ["default", "full"])
def test_probes_are_native_grpc_health_checks_on_the_server_port(
    default_manifests: list[Manifest], full_manifests: list[Manifest], which: str
) -> None:
    manifests = default_manifests if which == "default" else full_manifests
    container = server_container(manifests)
    port = int(configmap_data(manifests)["SESSION_PORT"])
    assert {"name": "grpc", "containerPort": port, "protocol": "TCP"} in container["ports"]
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
    base: dict[str, Any] = {"redis": {"url": "redis://redis:6379/0"}, "keys": {"files": {"k1": private}}}
    before = pod_annotations(chart.render(base))
    with_verify_key = pod_annotations(chart.render(base, {"keys": {"files": {"k2": public}}}))
    other_redis = pod_annotations(chart.render(base, {"redis": {"url": "redis://other:6379/0"}}))
    for after in (with_verify_key, other_redis):
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
        "OTEL_SERVICE_NAME": "session-service",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability:4317",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=production,service.namespace=platform",
    }
    data = configmap_data(full_manifests)
    assert {name: data.get(name) for name in expected} == expected
    assert all(isinstance(v, str) for v in data.values())
    container = server_container(full_manifests)
    assert container["envFrom"] == [{"configMapRef": {"name": "sessions"}}]
    assert {"name": "SESSION_JWT_LEEWAY", "value": "10"} in container["env"]


def test_chart_defaults_match_the_service_defaults(default_manifests: list[Manifest]) -> None:
    service_defaults: dict[str, Any] = {
        ENV_PREFIX + f.name.upper(): f.default for f in dataclasses.fields(Settings)
    }
    data = configmap_data(default_manifests)
    # Set on purpose: where the chart mounts the keys.
    chart_specific = {"SESSION_KEYS_DIR"}
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
    assert full_ports == {"grpc": 443, "metrics": 9090}
    container_ports = {p["name"]: p["containerPort"] for p in server_container(full_manifests)["ports"]}
    assert container_ports == {"grpc": 50052, "metrics": 9465}


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
    policy = one(full_manifests, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    grpc_rule, metrics_rule = policy["ingress"]
    assert grpc_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    assert {"podSelector": {"matchLabels": {"sessions-client": "true"}}} in grpc_rule["from"]
    assert {"namespaceSelector": {"matchLabels": {"example.com/gateway": "true"}}} in grpc_rule["from"]
    assert metrics_rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    egress_ports = [sorted(p["port"] for p in rule["ports"]) for rule in policy["egress"]]
    assert egress_ports == [[53, 53], [6379, 6380], [4317], [8443]]
    test_pod_labels = one(full_manifests, "Pod")["metadata"]["labels"]
    assert test_pod_labels["sessions-client"] == "true"


def test_helm_test_pod_runs_the_healthcheck_against_the_service(full_manifests: list[Manifest]) -> None:
    pod = one(full_manifests, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["image"] == server_container(full_manifests)["image"]
    assert container["args"] == ["healthcheck", "--target", "sessions:443"]
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


# --- values.yaml and its schema -----------------------------------------------------------


def declared_keys(values_yaml: str) -> dict[str, bool]:
    """Each key path declared in values.yaml -> whether a comment documents it (above or inline)."""
    documented: dict[str, bool] = {}
    stack: list[tuple[int, str]] = []
    previous = ""
    for line in values_yaml.splitlines():
        match = re.match(r"^(\s*)([A-Za-z0-9_.-]+):(.*)$", line)
        if match:
            indent, key = len(match[1]), match[2]
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, key))
            path = ".".join(k for _, k in stack)
            documented[path] = previous.lstrip().startswith("#") or "#" in match[3]
        previous = line
    return documented


def chart_defined_paths(
    schema: dict[str, Any], definitions: dict[str, Any], prefix: str = ""
) -> dict[str, bool]:
    """Paths of the values the schema declares -> whether the chart defines their inner shape
    (an object closed by additionalProperties false). Kubernetes objects passed through as they
    are (security contexts, resources, peers) are not walked into: the comment on the object
    documents them."""
    paths: dict[str, bool] = {}
    for name, sub in schema.get("properties", {}).items():
        if "$ref" in sub:
            sub = definitions[sub["$ref"].rsplit("/", 1)[1]]
        closed = sub.get("additionalProperties") is False
        paths[prefix + name] = closed
        if closed:
            paths |= chart_defined_paths(sub, definitions, f"{prefix}{name}.")
    return paths


def test_every_value_is_documented_and_described_by_the_schema() -> None:
    values_text = (CHART / "values.yaml").read_text()
    schema = json.loads((CHART / "values.schema.json").read_text())
    documented = declared_keys(values_text)
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
