"""Risk signals: what a session's activity says about who is using it, and what to do.

Every Refresh that says who refreshes (``RefreshRequest.client``) and every gateway
request (the client's address and user agent) is compared with the session's last
client. Four signals, each with an action from configuration:

- ``network_change``: the client's network differs from the last one (IPv4 /24, IPv6
  /48; an IPv4-mapped IPv6 address counts as its IPv4 address);
- ``user_agent_change``: the browser family or the operating system differs (a version
  bump does not count; :func:`user_agent_family`);
- ``concurrent_networks``: the session is used from another network than the one it
  was used from less than ``concurrent_window_ms`` before (to the precision of the
  activity writes, at most one a minute while nothing changes);
- ``rotation_burst``: more refreshes of the session within a minute than
  ``rotation_burst_limit`` (no client refreshes that often).

Actions: ``ignore``; ``record`` (an audit event ``session_risk`` with the two values
compared); ``step_up`` (record, revoke the current access tokens through the revocation
feed and answer Refresh REAUTHENTICATION_REQUIRED until Reauthenticate); ``revoke``
(record and end the session, REVOCATION_REASON_RISK_POLICY). Of several signals at once
the strongest action is taken. No I/O here: the manager and the gateway act.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass, field

from session_service.domain.model import ClientInfo

ACTIVITY_WRITE_INTERVAL_MS = 60_000
"""A session's last client is written at most this often while it does not change."""
BURST_WINDOW_MS = 60_000
"""The window refreshes are counted in for ``rotation_burst``."""


class RiskSignal(enum.Enum):
    """A pattern of use that suggests someone else is using the session."""

    NETWORK_CHANGE = "network_change"
    """The client's network (IPv4 /24, IPv6 /48) differs from the session's last one."""
    USER_AGENT_CHANGE = "user_agent_change"
    """The browser family or operating system differs from the session's last one."""
    CONCURRENT_NETWORKS = "concurrent_networks"
    """Used from two networks within the concurrency window."""
    ROTATION_BURST = "rotation_burst"
    """More refreshes in a minute than a client plausibly makes."""


class RiskAction(enum.Enum):
    """What the service does about a signal, from weakest to strongest."""

    IGNORE = "ignore"
    """Nothing."""
    RECORD = "record"
    """An audit event ``session_risk``."""
    STEP_UP = "step_up"
    """Record; revoke the current access tokens; Refresh needs Reauthenticate first."""
    REVOKE = "revoke"
    """Record and end the session."""


ACTION_NAMES: tuple[str, ...] = tuple(a.value for a in RiskAction)
"""The values a signal's setting may take."""
_STRENGTH = {action: i for i, action in enumerate(RiskAction)}


@dataclass(frozen=True)
class RiskPolicy:
    """The action of each signal, and the signals' parameters."""

    actions: dict[RiskSignal, RiskAction] = field(
        default_factory=lambda: dict.fromkeys(RiskSignal, RiskAction.RECORD)
    )
    """By signal; a signal not named is recorded."""
    concurrent_window_ms: int = 60_000
    """How close in time uses from two networks count as concurrent."""
    rotation_burst_limit: int = 30
    """Refreshes of one session within a minute above which ``rotation_burst`` fires."""

    def action(self, signal: RiskSignal) -> RiskAction:
        """The configured action of ``signal``."""
        return self.actions.get(signal, RiskAction.RECORD)

    @property
    def watches_activity(self) -> bool:
        """Whether any signal is acted on (not every one ignored)."""
        return any(self.action(s) is not RiskAction.IGNORE for s in RiskSignal)


@dataclass(frozen=True)
class Activity:
    """What the store knows of a session's recent use, before the current request."""

    last_client: ClientInfo
    """The client it was last used from (empty fields when never said)."""
    last_seen_ms: int = 0
    """When that client was last written (0: never)."""
    refreshes_in_window: int = 0
    """Refreshes counted in the current burst window (this one included)."""
    window_started_ms: int = 0
    """When the current burst window started (0: none yet)."""

    def needs_write(self, client: ClientInfo, now_ms: int, *, refreshing: bool = False) -> bool:
        """Whether the store must record this request: a client that differs from the last
        one (in a field it gives), the last write a minute old, or, for a refresh, a burst
        window to start. Otherwise nothing is written (the throttle)."""
        given = [(new, old) for new, old in _fields(client, self.last_client) if new]
        if given and (
            any(new != old for new, old in given) or now_ms - self.last_seen_ms >= ACTIVITY_WRITE_INTERVAL_MS
        ):
            return True
        return refreshing and now_ms - self.window_started_ms >= BURST_WINDOW_MS


def _fields(new: ClientInfo, old: ClientInfo) -> list[tuple[str, str]]:
    return [(new.ip, old.ip), (new.user_agent, old.user_agent), (new.device, old.device)]


@dataclass(frozen=True)
class Detected:
    """One signal raised by one request."""

    signal: RiskSignal
    """Which."""
    action: RiskAction
    """What the policy says to do."""
    previous: str
    """The session's value compared (a network, a family, a count)."""
    current: str
    """The request's."""


def client_network(ip: str) -> str:
    """The network an address is in, as compared: its IPv4 /24 or IPv6 /48 (an IPv4-mapped
    IPv6 address as its IPv4 address). Raises ValueError for anything but one IP address."""
    address = normalized_ip(ip)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def normalized_ip(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address ``ip`` names, an IPv4-mapped IPv6 address as IPv4; ValueError otherwise
    (a network, a zone index, a port, a host name, spaces)."""
    if not ip or ip != ip.strip() or "%" in ip:
        raise ValueError("is not an IP address")
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# The families and systems told apart, most specific first: Edge and Opera say Chrome
# too, Chrome says Safari, every browser says Mozilla. Versions are never compared.
_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Opera", re.compile(r"\b(OPR|Opera)[/ ]")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/")),
    ("Firefox", re.compile(r"\b(Firefox|FxiOS)/")),
    ("Chrome", re.compile(r"\b(Chrome|CriOS|Chromium)/")),
    ("Safari", re.compile(r"\bVersion/[\d.]+.*\bSafari/")),
    ("curl", re.compile(r"^curl/")),
)
_SYSTEMS = (
    ("iOS", re.compile(r"\b(iPhone|iPad|iPod)\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b")),
)


def user_agent_family(user_agent: str) -> str:
    """``<browser>/<system>`` of a User-Agent string, e.g. ``Firefox/Windows``; ``Other``
    for what it does not know. A small classifier of the common browsers and systems:
    enough to see a session move from one browser or device to another, never to tell
    versions apart (an update is no risk)."""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(user_agent)), "Other")
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), "Other")
    return f"{browser}/{system}"


def assess(
    policy: RiskPolicy,
    before: Activity,
    client: ClientInfo,
    now_ms: int,
    *,
    refreshing: bool = False,
) -> list[Detected]:
    """The signals a request from ``client`` raises against the session's ``before``
    (signals whose action is ignore are left out). ``client.ip`` must be valid (checked
    where it came in); an empty field compares with nothing."""
    found: list[tuple[RiskSignal, str, str]] = []
    last = before.last_client
    if client.ip and last.ip:
        was, now = client_network_or_empty(last.ip), client_network(client.ip)
        if was and was != now:
            found.append((RiskSignal.NETWORK_CHANGE, was, now))
            if before.last_seen_ms and now_ms - before.last_seen_ms < policy.concurrent_window_ms:
                found.append((RiskSignal.CONCURRENT_NETWORKS, was, now))
    if client.user_agent and last.user_agent:
        was, now = user_agent_family(last.user_agent), user_agent_family(client.user_agent)
        if was != now:
            found.append((RiskSignal.USER_AGENT_CHANGE, was, now))
    if refreshing and before.refreshes_in_window > policy.rotation_burst_limit:
        limit = str(policy.rotation_burst_limit)
        found.append((RiskSignal.ROTATION_BURST, limit, str(before.refreshes_in_window)))
    detected = [Detected(s, policy.action(s), was, now) for s, was, now in found]
    return [d for d in detected if d.action is not RiskAction.IGNORE]


def client_network_or_empty(ip: str) -> str:
    """:func:`client_network`, or '' for a stored value that is not an address."""
    try:
        return client_network(ip)
    except ValueError:
        return ""


def strongest(detected: list[Detected]) -> RiskAction:
    """The strongest action of the detected signals (ignore when none)."""
    return max((d.action for d in detected), key=_STRENGTH.__getitem__, default=RiskAction.IGNORE)
