"""Which caller may call which RPC: the authorization policy and the decision.

The policy is a file (``SESSION_AUTHZ_POLICY_FILE``, typically a ConfigMap), reloaded
when it changes. ``.json`` files are read as JSON, anything else as YAML (which also
reads JSON). The shape::

    callers:
      "spiffe://cluster.local/ns/shop/sa/login":      # an identity, matched exactly
        rpcs: [Create, Refresh, Revoke]
        client_ids: [web, ios]                         # optional: the client_ids it may Create for
        share_sessions_with:                           # optional: see below
          - "spiffe://cluster.local/ns/shop/sa/login-eu"
      "spiffe://cluster.local/ns/shop/sa/login-eu": [Create, Refresh, Revoke]
      "spiffe://cluster.local/ns/shop/sa/cart": [Get, Introspect, GetJwks, WatchRevocations]
      "system:serviceaccount:ops:admin": ["*"]         # every RPC
      "spiffe://cluster.local/ns/shop/sa/checkout":
        rpcs: [Exchange]
        exchange:                                      # optional: what Exchange may obtain
          audiences: [orders-api, payments-api]
          scopes: ["orders:read", "payments:write"]
      "spiffe://cluster.local/ns/support/sa/console":
        rpcs: [Create, Revoke]
        impersonate: true                              # optional: Create with an impersonator

A caller's entry is either a list of RPC names or an object with ``rpcs`` and optional
``client_ids``; ``"*"`` (alone) means every RPC. ``client_ids`` restricts the
``client_id`` a caller may pass to ``Create`` (an empty or absent ``client_id`` is then
refused too). Identities not listed may call nothing.

``exchange`` says which tokens a caller may obtain by ``Exchange`` (RFC 8693): the
audiences (``aud``) and the scopes they may carry, each a list in which ``"*"`` (alone)
means any. Without it a caller obtains nothing, even when it may call ``Exchange``
(EXCHANGE_NOT_ALLOWED). ``impersonate: true`` lets a caller open impersonation sessions
(``Create`` with an ``impersonator``); without it such a Create is CALLER_NOT_ALLOWED.

A session belongs to the caller that created it: with ``SESSION_BIND_SESSIONS_TO_CALLER``
(the default) only that caller may ``Refresh`` it or ``Revoke`` it by refresh token.
``share_sessions_with`` names other identities of the policy that share sessions with
the entry's: the two may act on each other's sessions (several replicas of one login
service under different identities). Sharing is mutual and declared once, in either
entry; it is not transitive (three identities that all share need three pairs).

The file is validated strictly: an unknown key, an unknown RPC name, a repeated
identity, ``client_ids`` or ``impersonate`` for a caller that may not call ``Create``,
``exchange`` for one that may not call ``Exchange``, or a
``share_sessions_with`` entry that names an identity the policy does not list (or the
entry's own) is an error (ConfigError at start; at reload it is logged and the previous
policy stays).

:func:`decide` is the whole decision, a pure function of the policy, the caller's
identity (:mod:`session_service.security.caller`), the RPC's short name and, for
``Create``, the requested ``client_id``. The gRPC health service
(``grpc.health.v1.Health``) is not subject to the policy: probes carry no caller
identity, so the interceptor lets them through without calling :func:`decide`. Server
reflection is, as ``ServerReflectionInfo``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from session_wire.v1 import session_pb2

from session_service.domain.delegation import ANY, NO_EXCHANGE, ExchangeGrant
from session_service.errors import CallerNotAllowed, CallerUnauthenticated
from session_service.security.documents import load_document, yaml_allowed
from session_service.security.reload import DEFAULT_POLL_INTERVAL, Reloader, Watching

POLICY_FILE_SETTING = "SESSION_AUTHZ_POLICY_FILE"

RPC_NAMES: tuple[str, ...] = tuple(
    m.name for m in session_pb2.DESCRIPTOR.services_by_name["SessionService"].methods
)
"""The RPCs of ``session.v1.SessionService`` the policy speaks about."""
EVERY_RPC = "*"
"""In a caller's RPC list: every RPC."""
CLIENT_ID_RESTRICTED_RPC = "Create"
"""The RPC whose ``client_id`` a policy entry's ``client_ids`` restricts."""
EXCHANGE_RPC = "Exchange"
"""The RPC a policy entry's ``exchange`` grant applies to."""


@dataclass(frozen=True)
class CallerGrant:
    """What one identity may do."""

    rpcs: frozenset[str]
    """The RPCs it may call."""
    client_ids: frozenset[str] | None
    """The ``client_id`` values it may pass to Create; None when any."""
    share_sessions_with: frozenset[str] = frozenset()
    """Other identities that share sessions with it, as its entry names them."""
    exchange: ExchangeGrant = NO_EXCHANGE
    """The audiences and scopes it may obtain by Exchange; none by default."""
    impersonate: bool = False
    """Whether it may open impersonation sessions (Create with an impersonator)."""


@dataclass(frozen=True)
class Policy:
    """A validated authorization policy."""

    callers: Mapping[str, CallerGrant]
    """The grants by caller identity."""
    rpc_names: frozenset[str]
    """Every RPC name the policy was validated against."""
    session_sharers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """By identity, the other identities whose sessions it may act on (sharing made mutual)."""


def parse_policy(data: bytes, *, yaml_allowed: bool = True, rpc_names: Collection[str] = RPC_NAMES) -> Policy:
    """Parses and validates a policy document; raises ValueError saying what is wrong.

    ``yaml_allowed=False`` reads strict JSON only. The messages never quote the document
    beyond identities and RPC names.
    """
    known = frozenset(rpc_names)
    if not known or EVERY_RPC in known:
        raise ValueError("rpc_names must be non-empty and must not contain '*'")
    document = load_document(data, yaml_allowed=yaml_allowed)
    if not isinstance(document, dict):
        raise ValueError("the policy must be an object with a 'callers' key")
    unknown = set(document) - {"callers"}
    if unknown:
        raise ValueError(f"unknown top-level keys: {', '.join(sorted(map(str, unknown)))}")
    callers = document.get("callers")
    if not isinstance(callers, dict):
        raise ValueError("'callers' must be an object of identity: grant")
    grants: dict[str, CallerGrant] = {}
    for identity, entry in callers.items():
        if not isinstance(identity, str) or not identity.strip() or identity != identity.strip():
            raise ValueError(
                f"caller {identity!r}: an identity must be a non-empty string without surrounding spaces"
            )
        grants[identity] = _grant(identity, entry, known)
    return Policy(callers=grants, rpc_names=known, session_sharers=_session_sharers(grants))


def _session_sharers(grants: Mapping[str, CallerGrant]) -> dict[str, frozenset[str]]:
    sharers: dict[str, set[str]] = {}
    for identity, grant in grants.items():
        for other in grant.share_sessions_with:
            if other not in grants:
                raise ValueError(
                    f"caller {identity!r}: share_sessions_with names {other!r}, which is not a caller"
                )
            if other == identity:
                raise ValueError(f"caller {identity!r}: share_sessions_with names the caller itself")
            sharers.setdefault(identity, set()).add(other)
            sharers.setdefault(other, set()).add(identity)
    return {identity: frozenset(others) for identity, others in sharers.items()}


def _grant(identity: str, entry: object, known: frozenset[str]) -> CallerGrant:
    where = f"caller {identity!r}"
    client_ids: frozenset[str] | None = None
    shares: frozenset[str] = frozenset()
    exchange = NO_EXCHANGE
    impersonate = False
    if isinstance(entry, dict):
        unknown = set(entry) - {"rpcs", "client_ids", "share_sessions_with", "exchange", "impersonate"}
        if unknown:
            raise ValueError(f"{where}: unknown keys: {', '.join(sorted(map(str, unknown)))}")
        if "rpcs" not in entry:
            raise ValueError(f"{where}: 'rpcs' is required")
        rpc_list = entry["rpcs"]
        if "client_ids" in entry:
            client_ids = frozenset(_strings(f"{where}: client_ids", entry["client_ids"]))
            if not client_ids:
                raise ValueError(f"{where}: client_ids is empty, which would refuse every Create")
        if "share_sessions_with" in entry:
            shares = frozenset(_strings(f"{where}: share_sessions_with", entry["share_sessions_with"]))
        if "exchange" in entry:
            exchange = _exchange_grant(where, entry["exchange"])
        if "impersonate" in entry:
            impersonate = entry["impersonate"]
            if not isinstance(impersonate, bool):
                raise ValueError(f"{where}: impersonate must be true or false")
    else:
        rpc_list = entry
    names = _strings(f"{where}: rpcs", rpc_list)
    if not names:
        raise ValueError(f"{where}: rpcs is empty; remove the caller instead")
    if EVERY_RPC in names:
        if len(names) > 1:
            raise ValueError(f"{where}: '*' must be the only entry of rpcs")
        rpcs = known
    else:
        unknown_rpcs = [name for name in names if name not in known]
        if unknown_rpcs:
            listed = ", ".join(map(repr, unknown_rpcs))
            raise ValueError(f"{where}: unknown RPC {listed} (known: {', '.join(sorted(known))})")
        rpcs = frozenset(names)
    if client_ids is not None and CLIENT_ID_RESTRICTED_RPC not in rpcs:
        raise ValueError(
            f"{where}: client_ids only applies to {CLIENT_ID_RESTRICTED_RPC}, which it may not call"
        )
    if exchange != NO_EXCHANGE and EXCHANGE_RPC not in rpcs:
        raise ValueError(f"{where}: exchange only applies to {EXCHANGE_RPC}, which it may not call")
    if impersonate and CLIENT_ID_RESTRICTED_RPC not in rpcs:
        raise ValueError(
            f"{where}: impersonate only applies to {CLIENT_ID_RESTRICTED_RPC}, which it may not call"
        )
    return CallerGrant(
        rpcs=rpcs,
        client_ids=client_ids,
        share_sessions_with=shares,
        exchange=exchange,
        impersonate=impersonate,
    )


def _exchange_grant(where: str, value: object) -> ExchangeGrant:
    where = f"{where}: exchange"
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object with audiences and scopes")
    unknown = set(value) - {"audiences", "scopes"}
    if unknown:
        raise ValueError(f"{where}: unknown keys: {', '.join(sorted(map(str, unknown)))}")
    lists: dict[str, frozenset[str]] = {}
    for key in ("audiences", "scopes"):
        if key not in value:
            raise ValueError(f"{where}: '{key}' is required (a list; [\"*\"] for any)")
        names = _strings(f"{where}: {key}", value[key])
        if ANY in names and len(names) > 1:
            raise ValueError(f"{where}: '*' must be the only entry of {key}")
        lists[key] = frozenset(names)
    if not lists["audiences"]:
        raise ValueError(f"{where}: audiences is empty; remove exchange instead")
    return ExchangeGrant(audiences=lists["audiences"], scopes=lists["scopes"])


def _strings(where: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ValueError(f"{where} must be a list of non-empty strings")
    return value


def decide(
    policy: Policy, identity: str | None, rpc: str, client_id: str | None = None, *, impersonator: str = ""
) -> None:
    """Returns when ``identity`` may call ``rpc`` (with ``client_id`` and ``impersonator``
    for Create).

    Raises CallerUnauthenticated when ``identity`` is None (no credentials), and
    CallerNotAllowed naming ``rpc`` when the policy does not grant it, including an RPC
    the policy does not know.
    """
    if identity is None:
        raise CallerUnauthenticated()
    grant = policy.callers.get(identity)
    if grant is None or rpc not in grant.rpcs:
        raise CallerNotAllowed(rpc)
    if rpc == CLIENT_ID_RESTRICTED_RPC and grant.client_ids is not None and client_id not in grant.client_ids:
        raise CallerNotAllowed(rpc, "this client_id is not allowed for this caller")
    if rpc == CLIENT_ID_RESTRICTED_RPC and impersonator and not grant.impersonate:
        raise CallerNotAllowed(rpc, "this caller may not open impersonation sessions")


def exchange_grant(policy: Policy | None, identity: str) -> ExchangeGrant:
    """What ``identity`` may obtain by Exchange: its entry's ``exchange``; nothing without
    one, or without a policy at all."""
    if policy is None:
        return NO_EXCHANGE
    grant = policy.callers.get(identity)
    return grant.exchange if grant is not None else NO_EXCHANGE


def session_callers(policy: Policy | None, identity: str) -> frozenset[str]:
    """The identities whose sessions ``identity`` may refresh and revoke by refresh token:
    its own, and those the policy lets share sessions with it."""
    if policy is None:
        return frozenset((identity,))
    return frozenset((identity, *policy.session_sharers.get(identity, ())))


class PolicyFile(Watching):
    """The policy file, reloaded when it changes."""

    def __init__(
        self,
        path: Path,
        *,
        rpc_names: Collection[str] = RPC_NAMES,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        """Loads the policy now; raises ConfigError when the file is missing or invalid."""
        path = Path(path)
        names = tuple(rpc_names)
        as_yaml = yaml_allowed(path)

        def parse(contents: Mapping[str, bytes]) -> Policy:
            return parse_policy(contents[POLICY_FILE_SETTING], yaml_allowed=as_yaml, rpc_names=names)

        self._policy: Reloader[Policy] = Reloader(
            {POLICY_FILE_SETTING: path}, parse, poll_interval=poll_interval
        )
        self._watched = self._policy

    @property
    def policy(self) -> Policy:
        """The most recent valid policy."""
        return self._policy.value

    def check(self) -> bool:
        """Looks at the file now; True when a new policy was loaded."""
        return self._policy.check()

    def decide(
        self, identity: str | None, rpc: str, client_id: str | None = None, *, impersonator: str = ""
    ) -> None:
        """:func:`decide` with the current policy."""
        decide(self._policy.value, identity, rpc, client_id, impersonator=impersonator)
