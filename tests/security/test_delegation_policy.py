"""The policy's delegation keys: ``exchange`` (which audiences and scopes a caller may
obtain by Exchange, nothing by default) and ``impersonate`` (who may open impersonation
sessions), validated strictly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from session_service.domain.delegation import NO_EXCHANGE, ExchangeGrant
from session_service.errors import CallerNotAllowed
from session_service.security.policy import Policy, decide, exchange_grant, parse_policy

CHECKOUT = "spiffe://cluster.local/ns/shop/sa/checkout"
SUPPORT = "spiffe://cluster.local/ns/support/sa/console"


def _policy(callers: dict[str, Any]) -> Policy:
    return parse_policy(json.dumps({"callers": callers}).encode())


def test_exchange_grant_names_audiences_and_scopes_and_defaults_to_nothing() -> None:
    policy = _policy(
        {
            CHECKOUT: {
                "rpcs": ["Exchange"],
                "exchange": {"audiences": ["orders-api"], "scopes": ["orders:read"]},
            },
            "relay": {"rpcs": ["Exchange"], "exchange": {"audiences": ["*"], "scopes": ["*"]}},
            "plain": ["Exchange"],
        }
    )
    grant = exchange_grant(policy, CHECKOUT)
    assert grant == ExchangeGrant(frozenset({"orders-api"}), frozenset({"orders:read"}))
    assert grant.allows_audience("orders-api") and not grant.allows_audience("payments-api")
    assert grant.allows_scopes(("orders:read",)) and not grant.allows_scopes(("orders:read", "orders:write"))
    relay = exchange_grant(policy, "relay")
    assert relay.allows_audience("anything") and relay.allows_scopes(("a", "b"))
    assert exchange_grant(policy, "plain") == NO_EXCHANGE
    assert exchange_grant(policy, "unknown") == NO_EXCHANGE
    assert exchange_grant(None, CHECKOUT) == NO_EXCHANGE
    assert not NO_EXCHANGE.allows_audience("orders-api")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"rpcs": ["Get"], "exchange": {"audiences": ["a"], "scopes": []}}, "only applies to Exchange"),
        ({"rpcs": ["Exchange"], "exchange": ["a"]}, "must be an object"),
        ({"rpcs": ["Exchange"], "exchange": {"audiences": ["a"]}}, "'scopes' is required"),
        ({"rpcs": ["Exchange"], "exchange": {"audiences": [], "scopes": []}}, "audiences is empty"),
        ({"rpcs": ["Exchange"], "exchange": {"audiences": ["*", "a"], "scopes": []}}, "only entry"),
        ({"rpcs": ["Exchange"], "exchange": {"audiences": ["a"], "scopes": [""]}}, "non-empty strings"),
        ({"rpcs": ["Exchange"], "exchange": {"audiences": ["a"], "scopes": [], "ttl": 5}}, "unknown keys"),
        ({"rpcs": ["Create"], "impersonate": "yes"}, "true or false"),
        ({"rpcs": ["Get"], "impersonate": True}, "only applies to Create"),
    ],
)
def test_invalid_delegation_entries_are_refused(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _policy({CHECKOUT: entry})


def test_only_callers_the_policy_lets_impersonate_may_create_with_an_impersonator() -> None:
    policy = _policy({SUPPORT: {"rpcs": ["Create"], "impersonate": True}, "login": ["Create"]})
    decide(policy, SUPPORT, "Create", impersonator="ops@example.com")
    decide(policy, "login", "Create")
    with pytest.raises(CallerNotAllowed):
        decide(policy, "login", "Create", impersonator="ops@example.com")
