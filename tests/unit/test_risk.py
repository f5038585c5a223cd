"""The pure parts of the risk signals: networks of addresses, browser families, the client's
address behind trusted proxies, and which signals a request raises."""

from __future__ import annotations

import pytest

from session_service.domain.model import ClientInfo
from session_service.domain.risk import (
    Activity,
    RiskAction,
    RiskPolicy,
    RiskSignal,
    assess,
    client_network,
    strongest,
    user_agent_family,
)
from session_service.transport.gateway_http import client_address

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87"
)
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("192.0.2.77", "192.0.2.0/24"),
        ("::ffff:192.0.2.77", "192.0.2.0/24"),
        ("2001:db8:abcd:12::1", "2001:db8:abcd::/48"),
        ("2001:DB8:ABCD:ffff::", "2001:db8:abcd::/48"),
    ],
)
def test_networks_are_ipv4_24s_and_ipv6_48s_with_mapped_addresses_as_ipv4(ip: str, network: str) -> None:
    assert client_network(ip) == network


@pytest.mark.parametrize(
    "ip",
    ["", "192.0.2", "192.0.2.256", "192.0.2.0/24", "fe80::1%eth0", "::1::2", " 192.0.2.1", "example.com"],
)
def test_anything_but_one_address_is_refused(ip: str) -> None:
    with pytest.raises(ValueError):
        client_network(ip)


@pytest.mark.parametrize(
    ("user_agent", "family"),
    [
        (CHROME_MAC, "Chrome/macOS"),
        (EDGE_WINDOWS, "Edge/Windows"),
        (SAFARI_MAC, "Safari/macOS"),
        (CHROME_ANDROID, "Chrome/Android"),
        (FIREFOX_LINUX, "Firefox/Linux"),
        ("curl/8.5.0", "curl/Other"),
        ("", "Other/Other"),
    ],
)
def test_user_agents_are_told_apart_by_browser_family_and_system(user_agent: str, family: str) -> None:
    assert user_agent_family(user_agent) == family


def test_a_version_bump_is_the_same_family() -> None:
    assert user_agent_family(CHROME_MAC) == user_agent_family(
        CHROME_MAC.replace("126.0.0.0", "127.0.6533.72")
    )


@pytest.mark.parametrize(
    ("forwarded_for", "peer", "trusted", "client"),
    [
        (None, "10.0.0.2", 0, "10.0.0.2"),
        ("6.6.6.6, 192.0.2.1", "10.0.0.2", 0, "10.0.0.2"),
        ("6.6.6.6, 192.0.2.1", "10.0.0.2", 1, "192.0.2.1"),
        ("6.6.6.6, 192.0.2.1", "10.0.0.2", 2, "6.6.6.6"),
        ("192.0.2.1", "10.0.0.2", 5, ""),
        ("192.0.2.1, 10.0.0.2", None, 0, "10.0.0.2"),
        ("not-an-ip", "10.0.0.2", 1, ""),
        ("::ffff:192.0.2.1", "10.0.0.2", 1, "192.0.2.1"),
    ],
)
def test_the_client_is_the_entry_the_trusted_proxies_appended(
    forwarded_for: str | None, peer: str | None, trusted: int, client: str
) -> None:
    assert client_address(forwarded_for, peer, trusted) == client


def test_signals_take_their_configured_action_and_ignored_ones_are_left_out() -> None:
    policy = RiskPolicy(
        actions={
            RiskSignal.NETWORK_CHANGE: RiskAction.STEP_UP,
            RiskSignal.CONCURRENT_NETWORKS: RiskAction.IGNORE,
            RiskSignal.USER_AGENT_CHANGE: RiskAction.RECORD,
        },
        rotation_burst_limit=5,
    )
    before = Activity(ClientInfo("192.0.2.1", CHROME_MAC), last_seen_ms=1_000, refreshes_in_window=6)
    detected = assess(policy, before, ClientInfo("198.51.100.1", SAFARI_MAC), 2_000, refreshing=True)
    assert [(d.signal, d.action, d.previous, d.current) for d in detected] == [
        (RiskSignal.NETWORK_CHANGE, RiskAction.STEP_UP, "192.0.2.0/24", "198.51.100.0/24"),
        (RiskSignal.USER_AGENT_CHANGE, RiskAction.RECORD, "Chrome/macOS", "Safari/macOS"),
        (RiskSignal.ROTATION_BURST, RiskAction.RECORD, "5", "6"),
    ]
    assert strongest(detected) is RiskAction.STEP_UP
    # Nothing compares with a field never seen; a gateway request is no refresh.
    assert assess(policy, Activity(ClientInfo()), ClientInfo("198.51.100.1", SAFARI_MAC), 2_000) == []


def test_the_last_client_is_written_once_a_minute_unless_it_changes() -> None:
    before = Activity(ClientInfo("192.0.2.1", CHROME_MAC), last_seen_ms=10_000, window_started_ms=10_000)
    same = ClientInfo("192.0.2.1", CHROME_MAC)
    assert not before.needs_write(same, 69_999)
    assert before.needs_write(same, 70_000)
    assert before.needs_write(ClientInfo("192.0.2.2"), 10_001)
    assert not before.needs_write(ClientInfo(), 69_999, refreshing=True)
    assert before.needs_write(ClientInfo(), 70_000, refreshing=True)
