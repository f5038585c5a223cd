"""Input limits, so that no caller can bloat Redis or the tokens."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from session_wire.delegation import MAY_ACT_CLAIM, may_act_subject
from session_wire.token_profile import RESERVED_CLAIMS

from session_service.domain.model import ClientInfo, DataPatch, IdpSession, NewSession
from session_service.domain.risk import normalized_ip
from session_service.errors import FieldViolation, InvalidArgument

# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class InputLimits:
    """Bounds on everything a caller can store; sizes are in bytes of UTF-8."""

    max_user_id: int = 256
    """Longest user id."""
    max_claims: int = 32
    """Most extra claims per session."""
    max_claim_name: int = 128
    """Longest claim name."""
    max_claim_value: int = 1024
    """Longest claim value."""
    max_scopes: int = 64
    """Most scopes per session."""
    max_scope: int = 128
    """Longest scope."""
    max_data_entries: int = 64
    """Most data entries per session."""
    max_data_key: int = 128
    """Longest data key."""
    max_data_bytes: int = 65536
    """Largest total of data keys and values per session."""
    max_client_field: int = 512
    """Longest ClientInfo field or client_id."""
    max_token: int = 8192
    """Longest token accepted by Refresh, Revoke or Introspect."""


class Violations:
    """Collects field violations and raises them together."""

    def __init__(self) -> None:
        self._items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        """Records one violation."""
        self._items.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        """Raises :class:`InvalidArgument` when anything was recorded."""
        if self._items:
            raise InvalidArgument(self._items)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def check_user_id(v: Violations, field: str, user_id: str, limits: InputLimits) -> None:
    """A user id is required, bounded and free of control characters."""
    if not user_id:
        v.add(field, "is required")
    elif _size(user_id) > limits.max_user_id:
        v.add(field, f"must be at most {limits.max_user_id} bytes")
    elif _CONTROL.search(user_id):
        v.add(field, "must not contain control characters")


def check_required(v: Violations, field: str, value: str, limit: int) -> None:
    """A required string, such as a token or a session id, of bounded size."""
    if not value:
        v.add(field, "is required")
    elif _size(value) > limit:
        v.add(field, f"must be at most {limit} bytes")


def check_data(
    v: Violations, field: str, entries: Mapping[str, bytes], keys: Iterable[str], limits: InputLimits
) -> None:
    """Data keys are non-empty and bounded; the entries fit the per-session totals."""
    for key in keys:
        if not key:
            v.add(f"{field}[{key!r}]", "key must not be empty")
        elif _size(key) > limits.max_data_key:
            v.add(f"{field}[{key[:32]!r}]", f"key must be at most {limits.max_data_key} bytes")
    if len(entries) > limits.max_data_entries:
        v.add(field, f"must have at most {limits.max_data_entries} entries")
    total = sum(_size(k) + len(val) for k, val in entries.items())
    if total > limits.max_data_bytes:
        v.add(field, f"must total at most {limits.max_data_bytes} bytes")


def check_scopes(v: Violations, field: str, scopes: tuple[str, ...], limits: InputLimits) -> None:
    """Adds a violation for each scope that is not an RFC 6749 scope token of at most
    ``max_scope`` characters."""
    for i, scope in enumerate(scopes):
        if len(scope) > limits.max_scope or not _SCOPE_TOKEN.fullmatch(scope):
            v.add(f"{field}[{i}]", "must be an RFC 6749 scope token (no spaces or quotes)")


def validate_new_session(req: NewSession, limits: InputLimits) -> NewSession:
    """Checks a Create request; returns it with duplicate scopes folded."""
    v = Violations()
    check_user_id(v, "user_id", req.user_id, limits)
    if len(req.claims) > limits.max_claims:
        v.add("claims", f"must have at most {limits.max_claims} entries")
    for name, value in req.claims.items():
        where = f"claims[{name[:32]!r}]"
        if name in RESERVED_CLAIMS:
            v.add(where, "is set by the service and cannot be overridden")
        elif not name or _size(name) > limits.max_claim_name or _CONTROL.search(name):
            v.add(where, f"name must be 1 to {limits.max_claim_name} bytes without control characters")
        if _size(value) > limits.max_claim_value:
            v.add(where, f"value must be at most {limits.max_claim_value} bytes")
        if name == MAY_ACT_CLAIM and may_act_subject(value) is None:
            v.add(where, 'must be the JSON object {"sub": "<the one identity that may exchange the tokens>"}')
    check_data(v, "data", req.data, req.data.keys(), limits)
    scopes = tuple(dict.fromkeys(req.scopes))
    if len(scopes) > limits.max_scopes:
        v.add("scopes", f"must have at most {limits.max_scopes} entries")
    check_scopes(v, "scopes", scopes, limits)
    _check_client(v, req.client, req.client_id, limits)
    _check_idp(v, req.idp, limits)
    if req.impersonator:
        # An operator's identity, as the audit trail and the act claim name it.
        check_user_id(v, "impersonator", req.impersonator, limits)
    v.raise_if_any()
    if scopes == req.scopes:
        return req
    return dataclasses.replace(req, scopes=scopes)


def _check_idp(v: Violations, idp: IdpSession | None, limits: InputLimits) -> None:
    # An IdP session is found by (issuer, session_id) or (issuer, subject): one without an
    # issuer, or with neither, could never be named by a logout.
    if idp is None:
        return
    if not idp.issuer:
        v.add("idp.issuer", "must be set when idp is")
    if not idp.subject and not idp.session_id:
        v.add("idp", "must name the subject, the session_id or both")
    for field, value in (
        ("idp.issuer", idp.issuer),
        ("idp.subject", idp.subject),
        ("idp.session_id", idp.session_id),
    ):
        if _size(value) > limits.max_claim_value or _CONTROL.search(value):
            v.add(field, f"must be at most {limits.max_claim_value} bytes without control characters")


def _check_client(v: Violations, client: ClientInfo, client_id: str, limits: InputLimits) -> None:
    check_client_info(v, "client", client, limits)
    if _size(client_id) > limits.max_client_field:
        v.add("client_id", f"must be at most {limits.max_client_field} bytes")


def check_client_info(v: Violations, field: str, client: ClientInfo, limits: InputLimits) -> None:
    """A client's fields are bounded, and its ip, when given, is one IPv4 or IPv6 address."""
    for name, value in (("ip", client.ip), ("user_agent", client.user_agent), ("device", client.device)):
        if _size(value) > limits.max_client_field:
            v.add(f"{field}.{name}", f"must be at most {limits.max_client_field} bytes")
    if client.ip and _size(client.ip) <= limits.max_client_field:
        try:
            normalized_ip(client.ip)
        except ValueError:
            v.add(f"{field}.ip", "must be one IPv4 or IPv6 address")


def validate_patch(session_field: str, session_id: str, patch: DataPatch, limits: InputLimits) -> None:
    """Checks an Update request (the store checks the resulting totals atomically)."""
    v = Violations()
    check_required(v, session_field, session_id, limits.max_token)
    if not patch.set and not patch.remove:
        v.add("set", "set or remove must name at least one key")
    check_data(v, "set", patch.set, patch.set.keys(), limits)
    check_data(v, "remove", {}, patch.remove, limits)
    for key in set(patch.set).intersection(patch.remove):
        v.add(f"remove[{key[:32]!r}]", "a key cannot be both set and removed")
    if patch.expected_version < 0:
        v.add("expected_version", "must not be negative")
    v.raise_if_any()
