"""Authorization policy: strict parsing, the pure decision, and reloading the file."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from session_service.errors import CallerNotAllowed, CallerUnauthenticated, ConfigError
from session_service.security.policy import (
    POLICY_FILE_SETTING,
    RPC_NAMES,
    Policy,
    PolicyFile,
    decide,
    parse_policy,
    session_callers,
)
from tests.certs import write_atomically
from tests.security.support import eventually

LOGIN = "spiffe://cluster.local/ns/shop/sa/login"
CART = "spiffe://cluster.local/ns/shop/sa/cart"
ADMIN = "system:serviceaccount:ops:admin"

POLICY: dict[str, Any] = {
    "callers": {
        LOGIN: {"rpcs": ["Create", "Refresh", "Revoke"], "client_ids": ["web", "ios"]},
        CART: ["Get", "Introspect", "GetJwks", "WatchRevocations"],
        ADMIN: ["*"],
    }
}

POLICY_YAML = f"""
# Who may call the session service.
callers:
  "{LOGIN}":
    rpcs: [Create, Refresh, Revoke]
    client_ids: [web, ios]
  "{CART}": [Get, Introspect, GetJwks, WatchRevocations]
  "{ADMIN}": ["*"]
"""


def policy_of(document: dict[str, Any]) -> Policy:
    return parse_policy(json.dumps(document).encode(), yaml_allowed=False)


@pytest.fixture
def policy() -> Policy:
    return policy_of(POLICY)


def test_listed_caller_may_call_its_rpcs(policy: Policy) -> None:
    decide(policy, CART, "Get")
    decide(policy, CART, "WatchRevocations")
    decide(policy, LOGIN, "Refresh")


def test_rpc_not_granted_is_denied_naming_the_rpc(policy: Policy) -> None:
    with pytest.raises(CallerNotAllowed) as denied:
        decide(policy, CART, "Revoke")
    assert denied.value.rpc == "Revoke"
    assert "Revoke" in denied.value.message


def test_unlisted_caller_is_denied(policy: Policy) -> None:
    with pytest.raises(CallerNotAllowed):
        decide(policy, "spiffe://cluster.local/ns/other/sa/x", "Get")


def test_missing_identity_is_unauthenticated(policy: Policy) -> None:
    with pytest.raises(CallerUnauthenticated):
        decide(policy, None, "Get")


def test_star_grants_every_rpc(policy: Policy) -> None:
    for rpc in RPC_NAMES:
        decide(policy, ADMIN, rpc)
    decide(policy, ADMIN, "Create", "any-client")


def test_unknown_rpc_is_denied_even_for_star(policy: Policy) -> None:
    with pytest.raises(CallerNotAllowed):
        decide(policy, ADMIN, "Delete")


def test_client_ids_restrict_create(policy: Policy) -> None:
    decide(policy, LOGIN, "Create", "web")
    decide(policy, LOGIN, "Create", "ios")
    for client_id in ("android", "", None):
        with pytest.raises(CallerNotAllowed) as denied:
            decide(policy, LOGIN, "Create", client_id)
        assert denied.value.rpc == "Create"
    # client_ids only concern Create.
    decide(policy, LOGIN, "Revoke", "android")


def test_yaml_and_json_give_the_same_policy(policy: Policy) -> None:
    assert parse_policy(POLICY_YAML.encode()) == policy


def test_rpc_names_can_be_supplied() -> None:
    parsed = parse_policy(b'{"callers": {"a": ["Ping"]}}', rpc_names=("Ping",))
    decide(parsed, "a", "Ping")
    with pytest.raises(ValueError, match="unknown RPC 'Get'"):
        parse_policy(b'{"callers": {"a": ["Get"]}}', rpc_names=("Ping",))


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"callers": {CART: ["Get", "Destroy"]}}, "unknown RPC 'Destroy'"),
        ({"callers": {CART: ["*", "Get"]}}, "'*' must be the only entry"),
        ({"callers": {CART: []}}, "rpcs is empty"),
        ({"callers": {CART: "Get"}}, "must be a list"),
        ({"callers": {CART: {"rpcs": ["Get"], "client_ids": ["web"]}}}, "client_ids only applies to Create"),
        ({"callers": {LOGIN: {"rpcs": ["Create"], "client_ids": []}}}, "client_ids is empty"),
        ({"callers": {LOGIN: {"rpcs": ["Create"], "clients": ["web"]}}}, "unknown keys: clients"),
        ({"callers": {LOGIN: {"client_ids": ["web"]}}}, "'rpcs' is required"),
        ({"callers": {"": ["Get"]}}, "identity must be a non-empty string"),
        ({"callers": {CART: ["Get"]}, "default": ["Get"]}, "unknown top-level keys: default"),
        ({"callers": [CART]}, "'callers' must be an object"),
        (
            {"callers": {LOGIN: {"rpcs": ["Refresh"], "share_sessions_with": [CART]}}},
            f"share_sessions_with names '{CART}', which is not a caller",
        ),
        (
            {"callers": {LOGIN: {"rpcs": ["Refresh"], "share_sessions_with": [LOGIN]}}},
            "share_sessions_with names the caller itself",
        ),
        (
            {"callers": {LOGIN: {"rpcs": ["Refresh"], "share_sessions_with": LOGIN}}},
            "share_sessions_with must be a list",
        ),
    ],
)
def test_invalid_policies_are_rejected_with_the_reason(document: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("*", r"\*")):
        policy_of(document)


def test_sharing_sessions_is_mutual_declared_once_and_not_transitive() -> None:
    replica = "spiffe://cluster.local/ns/shop/sa/login-eu"
    third = "spiffe://cluster.local/ns/shop/sa/login-us"
    policy = policy_of(
        {
            "callers": {
                LOGIN: {"rpcs": ["Create", "Refresh", "Revoke"], "share_sessions_with": [replica, third]},
                replica: ["Create", "Refresh", "Revoke"],
                third: ["Refresh"],
                CART: ["Get"],
            }
        }
    )
    assert session_callers(policy, LOGIN) == {LOGIN, replica, third}
    assert session_callers(policy, replica) == {replica, LOGIN}  # not the third: not transitive
    assert session_callers(policy, CART) == {CART}
    assert session_callers(None, CART) == {CART}


def test_repeated_identity_is_rejected_in_json_and_yaml() -> None:
    with pytest.raises(ValueError, match="duplicate key"):
        parse_policy(b'{"callers": {"a": ["Get"], "a": ["*"]}}', yaml_allowed=False)
    with pytest.raises(ValueError, match="duplicate key"):
        parse_policy(b"callers:\n  a: [Get]\n  a: ['*']\n")


def test_yaml_syntax_error_reports_the_position_not_the_content() -> None:
    with pytest.raises(ValueError) as raised:
        parse_policy(b"callers:\n  a: [Get\n  hunter2: x\n")
    assert "line" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_invalid_file_at_start_is_a_config_error(tmp_path: Path) -> None:
    path = write_atomically(tmp_path / "policy.json", b'{"callers": {"a": ["Fly"]}}')
    with pytest.raises(ConfigError) as raised:
        PolicyFile(path)
    assert raised.value.setting == POLICY_FILE_SETTING
    assert str(path) in str(raised.value)
    assert "Fly" in str(raised.value)


def test_json_file_does_not_accept_yaml(tmp_path: Path) -> None:
    path = write_atomically(tmp_path / "policy.json", POLICY_YAML.encode())
    with pytest.raises(ConfigError, match="not valid JSON"):
        PolicyFile(path)


def test_invalid_file_on_reload_keeps_the_previous_policy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_atomically(tmp_path / "policy.yaml", POLICY_YAML.encode())
    policy_file = PolicyFile(path)
    with caplog.at_level(logging.ERROR):
        write_atomically(path, b'{"callers": {"a": ["Fly"]}}')
        assert policy_file.check() is False
    assert POLICY_FILE_SETTING in caplog.text
    assert "unknown RPC 'Fly'" in caplog.text
    policy_file.decide(CART, "Get")


async def test_changed_file_is_reloaded(tmp_path: Path) -> None:
    path = write_atomically(tmp_path / "policy.yaml", POLICY_YAML.encode())
    async with PolicyFile(path, poll_interval=60) as policy_file:
        policy_file.decide(CART, "Get")
        changed = {"callers": {CART: ["Introspect"]}}
        write_atomically(path, json.dumps(changed).encode())

        def cart_lost_get() -> bool:
            try:
                policy_file.decide(CART, "Get")
            except CallerNotAllowed:
                return True
            return False

        await eventually(cart_lost_get)
        policy_file.decide(CART, "Introspect")
