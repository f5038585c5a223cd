"""The signals settings and the files of trusted issuers and transmitters are validated at
start: a mistake is a ConfigError naming the setting, before anything listens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey

from session_service.config import Settings
from session_service.domain.clock import SystemClock
from session_service.errors import ConfigError
from session_service.security.upstream import (
    LOGOUT_ISSUERS_SETTING,
    SSF_TRANSMITTERS_SETTING,
    SignalVerifier,
    load_issuers,
)

ISSUER = "https://idp.example.com"


@pytest.mark.parametrize(
    "env",
    [
        {"SESSION_SIGNALS_PORT": "50051"},
        {"SESSION_SIGNALS_PORT": "4180", "SESSION_FORWARD_AUTH_PORT": "4180"},
        {"SESSION_SIGNALS_PORT": "9465", "SESSION_WORKERS": "2"},
        {"SESSION_SIGNALS_PORT": "70000"},
    ],
)
def test_the_signals_port_must_be_a_port_of_its_own(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_sources(env)
    assert info.value.setting == "SESSION_SIGNALS_PORT"


@pytest.mark.parametrize("setting", ["SESSION_OIDC_LOGOUT_ISSUERS_FILE", "SESSION_SSF_TRANSMITTERS_FILE"])
def test_a_receiver_needs_the_signals_port(setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_sources({setting: "/etc/issuers.yaml"})
    assert info.value.setting == setting


def _write(folder: Path, document: Any, name: str = "issuers.yaml") -> Path:
    path = folder / name
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    "uri",
    [
        "https://idp.example.com/jwks",
        "http://127.0.0.1:8080/jwks",
        "http://[::1]/jwks",
        "http://localhost/jwks",
    ],
)
def test_jwks_urls_are_https_or_plain_http_to_loopback(tmp_path: Path, uri: str) -> None:
    path = _write(tmp_path, {"issuers": [{"issuer": ISSUER, "audience": "web", "jwks_uri": uri}]})
    assert load_issuers(path, LOGOUT_ISSUERS_SETTING)[ISSUER].jwks_uri == uri


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"jwks_uri": "http://idp.example.com/jwks"}, "https"),
        ({"jwks_uri": "http://10.0.0.1/jwks"}, "https"),
        ({}, "exactly one of jwks_file and jwks_uri"),
        ({"jwks_uri": "https://a/jwks", "jwks_file": "/k.json"}, "exactly one of jwks_file and jwks_uri"),
        ({"audience": "", "jwks_uri": "https://a/jwks"}, "issuer and audience are required"),
        ({"jwks_uri": "https://a/jwks", "extra": "x"}, "unknown fields"),
        ({"jwks_uri": "https://a/jwks", "bearer_token_file": "/t"}, "unknown fields"),
    ],
)
def test_invalid_issuer_entries_are_refused(tmp_path: Path, entry: dict[str, str], problem: str) -> None:
    path = _write(tmp_path, {"issuers": [{"issuer": ISSUER, "audience": "web", **entry}]})
    with pytest.raises(ConfigError) as info:
        load_issuers(path, LOGOUT_ISSUERS_SETTING)
    assert info.value.setting == LOGOUT_ISSUERS_SETTING
    assert problem in str(info.value)


def test_an_issuer_twice_or_no_list_is_refused(tmp_path: Path) -> None:
    entry = {"issuer": ISSUER, "audience": "web", "jwks_uri": "https://a/jwks"}
    with pytest.raises(ConfigError, match="appears twice"):
        load_issuers(_write(tmp_path, {"issuers": [entry, entry]}), LOGOUT_ISSUERS_SETTING)
    with pytest.raises(ConfigError, match="a list 'issuers'"):
        load_issuers(_write(tmp_path, {"transmitters": [entry]}), LOGOUT_ISSUERS_SETTING)


def test_transmitters_need_a_bearer_token_file(tmp_path: Path) -> None:
    entry = {"issuer": ISSUER, "audience": "r", "jwks_uri": "https://a/jwks"}
    with pytest.raises(ConfigError, match="bearer_token_file is required"):
        load_issuers(_write(tmp_path, {"transmitters": [entry]}), SSF_TRANSMITTERS_SETTING, transmitters=True)
    (tmp_path / "token").write_text("s3cret\n")
    path = _write(tmp_path, {"transmitters": [{**entry, "bearer_token_file": str(tmp_path / "token")}]})
    transmitter = load_issuers(path, SSF_TRANSMITTERS_SETTING, transmitters=True)[ISSUER]
    # Without idp_issuer, the events name the transmitter's own identity provider.
    assert (transmitter.bearer_token, transmitter.idp_issuer) == ("s3cret", ISSUER)


def test_a_jwks_file_with_only_a_private_key_is_refused_at_start(tmp_path: Path) -> None:
    key = ECKey.generate_key("P-256")
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [key.as_dict(private=True)]}))
    entry = {"issuer": ISSUER, "audience": "web", "jwks_file": str(tmp_path / "jwks.json")}
    path = _write(tmp_path, {"issuers": [entry]})
    issuers = load_issuers(path, LOGOUT_ISSUERS_SETTING)
    with pytest.raises(ConfigError, match="private key"):
        SignalVerifier(issuers, LOGOUT_ISSUERS_SETTING, max_age_s=300, clock=SystemClock())
