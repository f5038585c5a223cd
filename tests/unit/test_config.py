"""Settings come from SESSION_* variables and flags and are validated at start."""

from __future__ import annotations

import pytest

from session_service.config import Settings
from session_service.errors import ConfigError


def test_defaults_listen_on_50051_with_embedded_redis() -> None:
    s = Settings.from_sources({})
    assert (s.host, s.port, s.embedded_redis) == ("0.0.0.0", 50051, True)
    assert s.access_token_ttl <= 900 and s.jwt_algorithm == "EdDSA"


def test_environment_then_flags() -> None:
    env = {"SESSION_PORT": "6000", "SESSION_REDIS_URL": "redis://r:6379", "SESSION_REFRESH_GRACE": "2.5"}
    flags = ["--port", "7000", "--max-sessions-per-user", "3", "--allow-unauthenticated-callers", "true"]
    s = Settings.from_sources(env, flags)
    assert (s.port, s.redis_url, s.refresh_grace, s.max_sessions_per_user) == (7000, "redis://r:6379", 2.5, 3)
    assert not s.embedded_redis


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"SESSION_PORT": "x"}, "SESSION_PORT"),
        ({"SESSION_PORT": "70000"}, "SESSION_PORT"),
        ({"SESSION_JWT_ALGORITHM": "HS256"}, "SESSION_JWT_ALGORITHM"),
        ({"SESSION_ACCESS_TOKEN_TTL": "0"}, "SESSION_ACCESS_TOKEN_TTL"),
        ({"SESSION_REDIS_PREFIX": "a{b}"}, "SESSION_REDIS_PREFIX"),
        ({"SESSION_REDIS_MODE": "cluster"}, "SESSION_REDIS_URL"),
        ({"SESSION_IDLE_TIMEOUT": "20", "SESSION_ABSOLUTE_TIMEOUT": "10"}, "SESSION_IDLE_TIMEOUT"),
        # Worker i serves metrics on metrics_port + i: 9464..9467 with four workers.
        (
            {"SESSION_WORKERS": "4", "SESSION_METRICS_PORT": "9464", "SESSION_FORWARD_AUTH_PORT": "9466"},
            "SESSION_FORWARD_AUTH_PORT",
        ),
        ({"SESSION_WORKERS": "4", "SESSION_METRICS_PORT": "50049"}, "SESSION_METRICS_PORT"),
        ({"SESSION_WORKERS": "4", "SESSION_METRICS_PORT": "65534"}, "SESSION_METRICS_PORT"),
    ],
)
def test_invalid_settings_name_the_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_sources(env)
    assert info.value.setting == setting


_REDIS = {"SESSION_REDIS_URL": "redis://r:6379"}
_TLS = {"SESSION_TLS_CERT_FILE": "/tls/tls.crt", "SESSION_TLS_KEY_FILE": "/tls/tls.key"}
_MTLS = {**_TLS, "SESSION_TLS_CLIENT_CA_FILE": "/tls/ca.crt"}
_CALLER_TOKENS = {
    "SESSION_CALLER_JWKS_FILE": "/jwks.json",
    "SESSION_CALLER_ISSUER": "https://kubernetes.default.svc",
    "SESSION_CALLER_AUDIENCE": "session-service",
}
_POLICY = {"SESSION_AUTHZ_POLICY_FILE": "/policy.yaml"}
_OPEN = {"SESSION_ALLOW_UNAUTHENTICATED_CALLERS": "true"}
_DEV = {"SESSION_DEV": "true"}


@pytest.mark.parametrize(
    ("env", "setting", "problem"),
    [
        ({**_MTLS}, "SESSION_AUTHZ_POLICY_FILE", "must be set with SESSION_TLS_CLIENT_CA_FILE"),
        ({**_CALLER_TOKENS}, "SESSION_AUTHZ_POLICY_FILE", "must be set with SESSION_CALLER_JWKS_FILE"),
        # The opt-in is about unauthenticated callers: authenticated ones still need a policy.
        ({**_CALLER_TOKENS, **_REDIS, **_OPEN}, "SESSION_AUTHZ_POLICY_FILE", "every caller they"),
        ({**_REDIS}, "SESSION_ALLOW_UNAUTHENTICATED_CALLERS", "SESSION_REDIS_URL is set (not development)"),
        ({**_TLS}, "SESSION_ALLOW_UNAUTHENTICATED_CALLERS", "SESSION_TLS_CERT_FILE is set (not development)"),
    ],
)
def test_a_start_open_to_every_caller_is_refused(env: dict[str, str], setting: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_sources(env)
    assert info.value.setting == setting
    assert problem in str(info.value)


@pytest.mark.parametrize(
    "env",
    [
        {},  # make run: the embedded development Redis, plaintext
        {**_REDIS, **_OPEN},
        {**_TLS, **_OPEN},
        {**_REDIS, **_POLICY},
        {**_MTLS, **_REDIS, **_POLICY},
        {**_CALLER_TOKENS, **_POLICY},
        {**_MTLS, **_DEV},
        {**_CALLER_TOKENS, **_REDIS, **_DEV},
    ],
)
def test_a_policy_development_mode_or_the_opt_in_lets_the_service_start(env: dict[str, str]) -> None:
    Settings.from_sources(env)
