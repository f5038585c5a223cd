"""The SSF receivers the transmitter pushes to: ``SESSION_SSF_RECEIVERS_FILE``.

A YAML (or, for ``.json`` files, JSON) document::

    receivers:
      - name: billing                      # optional; default: the endpoint. Keys the
                                           # receiver's delivery position in Redis
        endpoint: https://billing.example.com/ssf/events   # RFC 8935 push endpoint
        audience: https://billing.example.com              # the SETs' aud
        token_file: /etc/session-service/ssf/billing.token # optional: Authorization: Bearer
        ca_file: /etc/session-service/ssf/billing-ca.pem   # optional: CA bundle for its TLS
        events:                            # optional; default: every type we transmit
          - https://schemas.openid.net/secevent/caep/event-type/session-revoked

Endpoints must be ``https``; plain ``http`` is allowed to a loopback address
(``localhost``, ``127.0.0.1``, ``[::1]``) or with ``SESSION_DEV=true``. The file is read
at start; a bearer token file is read again when it changes (a rotated Secret).
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yarl import URL

from session_service.domain.security_events import TRANSMITTED_EVENTS
from session_service.errors import ConfigError
from session_service.security.documents import is_loopback_host, load_document, yaml_allowed

RECEIVERS_FILE_SETTING = "SESSION_SSF_RECEIVERS_FILE"
_FIELDS = frozenset({"name", "endpoint", "audience", "token_file", "ca_file", "events"})
_MAX_TOKEN_BYTES = 8192


class BearerTokenFile:
    """A file holding one bearer token, read again when it changes (a rotated Secret)."""

    def __init__(self, path: Path) -> None:
        """Reads the token now; OSError or ValueError when the file is unusable."""
        self.path = path
        self._read_at = -1.0
        self._token = ""
        self.token()

    def token(self) -> str:
        """The token as the file holds it now."""
        mtime = self.path.stat().st_mtime
        if mtime != self._read_at:
            self._token, self._read_at = _read_token(self.path), mtime
        return self._token


@dataclass(frozen=True)
class Receiver:
    """One SSF receiver and how to push to it."""

    name: str
    """Stable name; keys its delivery position and lease, and labels its metrics."""
    endpoint: str
    """The RFC 8935 push endpoint."""
    audience: str
    """The ``aud`` of the SETs it gets."""
    events: tuple[str, ...]
    """The event types it gets."""
    token_file: BearerTokenFile | None = field(default=None, compare=False)
    """The bearer token sent as ``Authorization: Bearer``; None sends none."""
    ca_file: Path | None = None
    """CA bundle that verifies its TLS certificate; None: the system's."""

    def bearer_token(self) -> str:
        """The bearer token as its file holds it now ('' without one)."""
        return "" if self.token_file is None else self.token_file.token()

    @functools.cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for its endpoint (None for plain http), built once."""
        if not self.endpoint.startswith("https:"):
            return None
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


def load_receivers(path: Path, *, dev: bool = False) -> tuple[Receiver, ...]:
    """The receivers the file names; ConfigError naming the setting when it is invalid."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(RECEIVERS_FILE_SETTING, f"cannot read {path}: {e.strerror}") from None
    try:
        return parse_receivers(data, json_only=not yaml_allowed(path), dev=dev, base=path.parent)
    except ValueError as e:
        raise ConfigError(RECEIVERS_FILE_SETTING, f"{path}: {e}") from None


def parse_receivers(
    data: bytes, *, json_only: bool = False, dev: bool = False, base: Path = Path()
) -> tuple[Receiver, ...]:
    """The receivers of a receivers document; ValueError saying what is wrong.
    Relative file names are taken from ``base``."""
    document = load_document(data, yaml_allowed=not json_only)
    if not isinstance(document, Mapping) or set(document) != {"receivers"}:
        raise ValueError("must be a mapping with one key, receivers")
    entries = document["receivers"]
    if not isinstance(entries, list):
        raise ValueError("receivers must be a list")
    receivers: list[Receiver] = []
    for n, entry in enumerate(entries):
        try:
            receivers.append(_receiver(entry, dev, base))
        except ValueError as e:
            raise ValueError(f"receivers[{n}]: {e}") from None
    names = [r.name for r in receivers]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate is not None:
        raise ValueError(f"two receivers are named {duplicate!r}")
    return tuple(receivers)


def _receiver(entry: Any, dev: bool, base: Path) -> Receiver:
    if not isinstance(entry, Mapping):
        raise ValueError("must be a mapping")
    unknown = set(entry) - _FIELDS
    if unknown:
        raise ValueError(f"unknown keys {sorted(map(str, unknown))}; expected some of {sorted(_FIELDS)}")
    endpoint = _text(entry, "endpoint")
    _check_endpoint(endpoint, dev)
    audience = _text(entry, "audience")
    events = entry.get("events", list(TRANSMITTED_EVENTS))
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise ValueError("events must be a non-empty list of event type URIs")
    unsupported = sorted(set(events) - set(TRANSMITTED_EVENTS))
    if unsupported:
        raise ValueError(
            f"events {unsupported} are not transmitted; this transmitter sends {list(TRANSMITTED_EVENTS)}"
        )
    token_path = _file(entry, "token_file", base)
    try:
        token_file = BearerTokenFile(token_path) if token_path is not None else None
    except OSError as e:
        raise ValueError(f"token_file {token_path}: {e.strerror}") from None
    receiver = Receiver(
        name=_text(entry, "name") if "name" in entry else endpoint,
        endpoint=endpoint,
        audience=audience,
        events=tuple(dict.fromkeys(events)),
        token_file=token_file,
        ca_file=_file(entry, "ca_file", base),
    )
    try:
        receiver.ssl_context  # noqa: B018 - a bad CA file fails at start, not at the first push
    except (OSError, ssl.SSLError) as e:
        raise ValueError(f"ca_file {receiver.ca_file}: {e}") from None
    return receiver


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be a non-empty string")
    return value.strip()


def _file(entry: Mapping[str, Any], key: str, base: Path) -> Path | None:
    if key not in entry:
        return None
    path = base / _text(entry, key)
    if not path.is_file():
        raise ValueError(f"{key} {path} is not a file")
    return path


def _check_endpoint(endpoint: str, dev: bool) -> None:
    try:
        url = URL(endpoint)
    except ValueError:
        raise ValueError("endpoint is not a URL") from None
    if url.scheme not in ("https", "http") or not url.host or url.user or url.fragment:
        raise ValueError("endpoint must be an https URL with a host, no user info and no fragment")
    if url.scheme == "http" and not dev and not is_loopback_host(url.host):
        raise ValueError(
            "endpoint must be https; plain http only to a loopback address (localhost, 127.0.0.1, [::1]) "
            "or with SESSION_DEV=true"
        )


def _read_token(path: Path) -> str:
    with path.open("rb") as f:
        raw = f.read(_MAX_TOKEN_BYTES + 1)
    token = raw.decode("utf-8", "replace").strip()
    if len(raw) > _MAX_TOKEN_BYTES or not token or any(c.isspace() for c in token):
        raise ValueError(f"token_file {path}: must hold one token of at most {_MAX_TOKEN_BYTES} bytes")
    return token
