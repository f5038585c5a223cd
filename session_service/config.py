"""Settings, read from ``SESSION_*`` environment variables and command-line flags.

Each field of :class:`Settings` is one setting: the environment variable is the
field name upper-cased with the ``SESSION_`` prefix, the flag is the field name
with dashes. Flags win over the environment. Every value is validated at start
and a bad one raises :class:`~session_service.errors.ConfigError` naming it.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from session_wire.dpop import DPOP_ALGORITHMS
from session_wire.token_profile import DEFAULT_LEEWAY_S, SUPPORTED_ALGORITHMS

from session_service.domain.risk import ACTION_NAMES
from session_service.errors import ConfigError

ENV_PREFIX = "SESSION_"

LIMIT_POLICIES = ("evict-oldest", "reject-new")
REDIS_MODES = ("standalone", "cluster")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
GATEWAY_MODES = ("local", "authoritative")
DEPRECATED_REUSE_MEMORY = 64
"""The default of the deprecated SESSION_REFRESH_REUSE_MEMORY; another value draws a warning."""


@dataclass(frozen=True)
class SettingGroup:
    """A concern that settings are grouped by: one table in docs/configuration.md, one
    section of ``session-service serve --help``."""

    name: str
    """Short name, e.g. ``redis``."""
    title: str
    """Heading of the group's table and help section."""
    doc: str
    """One sentence on what the group's settings decide."""


SERVER = SettingGroup("server", "Server", "Where the service listens and how its processes start and stop.")
REDIS = SettingGroup(
    "redis", "Redis", "The store: where Redis is, how it is reached, how long calls wait for it."
)
TOKENS = SettingGroup("tokens", "Access tokens", "The JWTs the service issues and the keys that sign them.")
SESSIONS = SettingGroup(
    "sessions", "Sessions", "How long sessions live, how refresh tokens rotate, how many a user may have."
)
LIMITS = SettingGroup(
    "limits", "Limits", "Bounds on what one user or one caller may ask of the service, and on each replica."
)
GATEWAY = SettingGroup(
    "gateway", "Gateway", "The gateway doors: Envoy Check and HTTP forward-auth, and the headers they set."
)
SIGNALS = SettingGroup(
    "signals",
    "Signals",
    "The signals door: OIDC back-channel logout and Shared Signals (SSF, CAEP, RISC) from and to "
    "other systems.",
)
SECURITY = SettingGroup(
    "security", "Security", "TLS, caller identity and the authorization policy; development mode."
)
TELEMETRY = SettingGroup(
    "telemetry", "Telemetry", "Logs and Prometheus metrics (traces use the standard OTEL_* variables)."
)
GROUPS = (SERVER, REDIS, TOKENS, SESSIONS, LIMITS, GATEWAY, SIGNALS, SECURITY, TELEMETRY)
"""Every group, in the order the docs and ``--help`` show them."""


def _setting(default: Any, group: SettingGroup, doc: str, choices: Sequence[str] | None = None) -> Any:
    return field(default=default, metadata={"doc": doc, "group": group, "choices": choices})


def group_of(f: dataclasses.Field[Any]) -> SettingGroup:
    """The group a field of :class:`Settings` is declared in."""
    group: SettingGroup = f.metadata["group"]
    return group


@dataclass(frozen=True)
class Settings:
    """Everything the service can be configured with, declared group by group;
    docs/configuration.md is generated from these declarations."""

    # Server
    host: str = _setting("0.0.0.0", SERVER, "Address the gRPC server listens on.")  # noqa: S104
    port: int = _setting(50051, SERVER, "Port the gRPC server listens on (0 picks a free port).")
    health_port: int = _setting(
        0,
        SERVER,
        "Plaintext port serving only grpc.health.v1, for Kubernetes gRPC probes while the main "
        "port speaks TLS; 0 disables it.",
    )
    workers: int = _setting(
        1,
        SERVER,
        "Server processes sharing the gRPC port (SO_REUSEPORT), one per CPU core, each with its own "
        "Redis pool and revocation feed; worker i serves metrics on metrics_port + i.",
    )
    shutdown_grace: float = _setting(10.0, SERVER, "Seconds in-flight calls may take to finish on SIGTERM.")

    # Redis
    redis_url: str = _setting(
        "",
        REDIS,
        "Redis URL (redis://, rediss://, unix://); for cluster mode, comma-separated seed nodes. "
        "Empty starts a private local redis-server for development.",
    )
    redis_mode: str = _setting("standalone", REDIS, "Redis topology.", REDIS_MODES)
    redis_prefix: str = _setting("ss", REDIS, "Prefix of every Redis key the service writes.")
    redis_password_file: str = _setting("", REDIS, "File holding the Redis password (ACL user in the URL).")
    redis_tls_ca_file: str = _setting(
        "", REDIS, "CA bundle that verifies the Redis server's TLS certificate."
    )
    redis_timeout: float = _setting(2.0, REDIS, "Seconds to wait for a Redis connection or reply.")
    redis_retry_timeout: float = _setting(
        3.0,
        REDIS,
        "Seconds a call keeps retrying Redis errors that are safe to retry (failover, resharding), "
        "bounded by the call's own deadline.",
    )
    redis_wait_replicas: int = _setting(
        0,
        REDIS,
        "Durability: writes wait until this many replicas acknowledge them (WAIT) before "
        "answering; 0 answers once the primary has them.",
    )
    redis_wait_timeout: float = _setting(
        0.5, REDIS, "Seconds a write waits for replica acknowledgements before failing UNAVAILABLE."
    )
    redis_read_from_replicas: bool = _setting(
        False,
        REDIS,
        "Cluster mode: Introspect reads sessions from replicas (docs/operations.md says when it is safe).",
    )
    redis_compact_sessions: bool = _setting(
        True,
        REDIS,
        "Store new sessions in the compact layout (no derived fields, the token hash raw). Set false "
        "while replicas of a release before it still run (a rolling upgrade, docs/operations.md), "
        "then true.",
    )
    redis_server_binary: str = _setting("redis-server", REDIS, "redis-server used when no Redis URL is set.")
    health_interval: float = _setting(1.0, REDIS, "Seconds between Redis health checks.")

    # Access tokens
    issuer: str = _setting("session-service", TOKENS, "The access tokens' iss claim.")
    audience: str = _setting("internal", TOKENS, "The access tokens' aud claim.")
    keys_dir: str = _setting(
        "",
        TOKENS,
        "Folder of <kid>.pem files: private keys can sign, public keys only verify. "
        "Empty generates a key at start (development only).",
    )
    signing_key_id: str = _setting(
        "", TOKENS, "kid of the key that signs; needed when the folder has several."
    )
    jwt_algorithm: str = _setting(
        "EdDSA", TOKENS, "Algorithm of the generated development key.", SUPPORTED_ALGORITHMS
    )
    access_token_ttl: int = _setting(900, TOKENS, "Seconds an access token is valid.")
    jwt_leeway: int = _setting(
        DEFAULT_LEEWAY_S, TOKENS, "Seconds of clock skew tolerated when checking exp, nbf and iat."
    )
    dpop_proof_max_age: float = _setting(
        60.0,
        TOKENS,
        "Seconds a DPoP proof's iat may lie in the past (RFC 9449); its jti is remembered in Redis "
        "for this long plus twice SESSION_JWT_LEEWAY, so a proof is used once.",
    )
    dpop_algorithms: str = _setting(
        " ".join(DPOP_ALGORITHMS),
        TOKENS,
        "Space-separated algorithms a DPoP proof may be signed with (a subset of the default; "
        "never none or a MAC); the algs of DPoP challenges.",
    )
    dpop_nonces: bool = _setting(
        False,
        TOKENS,
        "Require a server nonce in every DPoP proof (RFC 9449 section 8): refusals hand out the "
        "current one (ErrorInfo metadata dpop_nonce, HTTP header DPoP-Nonce); each nonce lasts "
        "SESSION_DPOP_PROOF_MAX_AGE to twice that, and replicas sharing SESSION_KEYS_DIR share them.",
    )

    exchange_max_ttl: int = _setting(
        300,
        TOKENS,
        "Longest lifetime, in seconds, of a token obtained by Exchange (RFC 8693); never past the "
        "subject token's own expiry.",
    )
    exchange_max_depth: int = _setting(
        4,
        TOKENS,
        "Longest act chain of an exchanged token: how many services may exchange in a row.",
    )

    # Sessions
    idle_timeout: int = _setting(
        86400, SESSIONS, "Seconds of inactivity after which a session ends (sliding)."
    )
    absolute_timeout: int = _setting(
        1209600, SESSIONS, "Seconds after creation at which a session ends regardless."
    )
    refresh_grace: float = _setting(
        5.0,
        SESSIONS,
        "Seconds during which a just-rotated refresh token still yields the same successor "
        "(concurrent tabs, retries) instead of counting as reuse.",
    )
    impersonation_max_ttl: int = _setting(
        1800,
        SESSIONS,
        "Longest absolute lifetime, in seconds, of an impersonation session (Create with an "
        "impersonator); such a session is never refreshed.",
    )
    refresh_token_keys_file: str = _setting(
        "",
        SESSIONS,
        "File of the keys that MAC refresh tokens: one base64 or base64url key of at least 32 bytes "
        "per line; the first MACs new tokens, every one verifies. All replicas need the same file. "
        "Empty generates a key at start (development only).",
    )
    refresh_reuse_memory: int = _setting(
        DEPRECATED_REUSE_MEMORY,
        SESSIONS,
        "Deprecated and ignored (a warning at start when set): a rotated refresh token is "
        "recognised after any number of rotations.",
    )
    max_sessions_per_user: int = _setting(
        100, SESSIONS, "Concurrent sessions a user may have; 0 (set explicitly) is unlimited."
    )
    limit_policy: str = _setting(
        "evict-oldest",
        SESSIONS,
        "At the session limit: end the least recently active session, or refuse the new one.",
        LIMIT_POLICIES,
    )
    risk_network_change: str = _setting(
        "record",
        SESSIONS,
        "What a Refresh or gateway request from another network than the session's last one "
        "(IPv4 /24, IPv6 /48) does: ignore, record (audit event session_risk), step_up (revoke the "
        "access tokens; Refresh needs Reauthenticate) or revoke (end the session).",
        ACTION_NAMES,
    )
    risk_user_agent_change: str = _setting(
        "record",
        SESSIONS,
        "The same for another browser family or operating system than the session's last one "
        "(a version bump does not count).",
        ACTION_NAMES,
    )
    risk_concurrent_networks: str = _setting(
        "record",
        SESSIONS,
        "The same for a session used from two networks within SESSION_RISK_CONCURRENT_WINDOW.",
        ACTION_NAMES,
    )
    risk_concurrent_window: float = _setting(
        60.0, SESSIONS, "Seconds within which uses from two networks count as concurrent."
    )
    risk_rotation_burst: str = _setting(
        "record",
        SESSIONS,
        "The same for more refreshes of one session in a minute than SESSION_RISK_ROTATION_BURST_LIMIT.",
        ACTION_NAMES,
    )
    risk_rotation_burst_limit: int = _setting(
        30, SESSIONS, "Refreshes of one session within a minute above which a client is not plausible."
    )

    # Limits
    create_rate_per_user: float = _setting(
        0.5,
        LIMITS,
        "Creates per second a user's budget refills with (enforced in Redis, for all replicas); 0 disables.",
    )
    create_burst_per_user: int = _setting(
        30, LIMITS, "Creates a user may make at once before the rate applies."
    )
    refresh_rate_per_user: float = _setting(
        2.0, LIMITS, "Refreshes per second a user's budget refills with (enforced in Redis); 0 disables."
    )
    refresh_burst_per_user: int = _setting(
        60, LIMITS, "Refreshes a user may make at once before the rate applies."
    )
    caller_rate_limit: int = _setting(
        10000,
        LIMITS,
        "Calls per second one caller (its identity, else its address) may make to one replica; 0 disables.",
    )
    max_concurrent_rpcs: int = _setting(
        1000,
        LIMITS,
        "Calls one replica serves at once; more are refused at once with OVERLOADED; 0 disables.",
    )
    max_watchers: int = _setting(
        1000, LIMITS, "WatchRevocations streams one replica serves at once; 0 disables the cap."
    )
    max_watchers_per_caller: int = _setting(
        250,
        LIMITS,
        "WatchRevocations streams one caller (its identity, else its address) may hold on one "
        "replica; more are refused with OVERLOADED until one ends; 0 disables the cap. The "
        "default, a quarter of the default SESSION_MAX_WATCHERS, fits a service with hundreds "
        "of pods (one Verifier each) under one identity and leaves three quarters to the others.",
    )

    # Gateway
    forward_auth_port: int = _setting(
        0,
        GATEWAY,
        "Port of the HTTP forward-auth endpoint /auth (nginx auth_request, Traefik ForwardAuth, "
        "Caddy forward_auth); 0 disables it.",
    )
    forward_auth_client_cert_header: str = _setting(
        "",
        GATEWAY,
        "Header in which the proxy passes forward-auth the client certificate it verified (nginx "
        "$ssl_client_escaped_cert, Caddy {http.request.tls.client.certificate_der_base64}); tokens bound "
        "to a certificate (RFC 8705) pass only with theirs. Empty: such tokens never pass forward-auth.",
    )
    forward_auth_cookie: str = _setting(
        "session_token",
        GATEWAY,
        "Cookie that gateway checks read the access token from when there is no Authorization: Bearer.",
    )
    gateway_mode: str = _setting(
        "local",
        GATEWAY,
        "How gateway checks (Envoy Check, forward-auth) decide: local (signature, cache, revocation "
        "feed; the store while the feed is stale) or authoritative (the store every time, like Introspect).",
        GATEWAY_MODES,
    )
    gateway_cache_size: int = _setting(
        10000,
        GATEWAY,
        "Verified access tokens remembered (by SHA-256, until exp) by the one cache Introspect, "
        "IntrospectBatch and gateway checks share; 0: none.",
    )
    gateway_freshness: float = _setting(
        3.0,
        GATEWAY,
        "Seconds the gateway's revocation feed may go unheard before local checks read the store instead.",
    )
    gateway_trusted_proxies: int = _setting(
        0,
        GATEWAY,
        "Proxies in front of the gateway checks whose X-Forwarded-For entries are trusted: the "
        "client's address (its session's last client and risk signals) is that many hops from the "
        "right of X-Forwarded-For followed by the direct peer (for forward-auth the proxy asking, "
        "for Envoy the downstream address); 0 takes the direct peer.",
    )
    gateway_user_id_header: str = _setting(
        "x-user-id", GATEWAY, "Header that carries the user id to the upstream."
    )
    gateway_session_id_header: str = _setting(
        "x-session-id", GATEWAY, "Header that carries the session id to the upstream."
    )
    gateway_scopes_header: str = _setting(
        "x-scopes", GATEWAY, "Header that carries the space-separated scopes to the upstream."
    )
    gateway_client_id_header: str = _setting(
        "x-client-id", GATEWAY, "Header that carries the session's client_id to the upstream."
    )

    # Signals
    signals_port: int = _setting(
        0,
        SIGNALS,
        "Port of the signals door (POST /oidc/backchannel-logout, POST /ssf/events, the SSF "
        "transmitter's metadata); TLS with SESSION_TLS_CERT_FILE when that is set; 0 disables it.",
    )
    oidc_logout_issuers_file: str = _setting(
        "",
        SIGNALS,
        "YAML or JSON file of the identity providers whose OIDC back-channel logout tokens end "
        "sessions: per issuer its JWKS (file or https URL) and our client id there (docs/sso.md).",
    )
    ssf_transmitters_file: str = _setting(
        "",
        SIGNALS,
        "YAML or JSON file of the SSF transmitters whose CAEP and RISC events (RFC 8935 push to "
        "POST /ssf/events) end sessions: issuer, JWKS, audience, bearer token file (docs/sso.md).",
    )
    signals_max_token_age: int = _setting(
        300,
        SIGNALS,
        "Seconds a logout token or SET may be old (its iat) or ahead of our clock; its jti is "
        "remembered that long to refuse replays.",
    )
    ssf_receivers_file: str = _setting(
        "",
        SIGNALS,
        "YAML or JSON file of the SSF receivers every revocation is pushed to as a CAEP "
        "session-revoked event (RFC 8935): endpoint, audience, bearer token file, event types "
        "(docs/sso.md); empty: no transmitter.",
    )
    ssf_public_url: str = _setting(
        "",
        SIGNALS,
        "Base URL at which receivers reach the signals door, for jwks_uri in "
        "/.well-known/ssf-configuration; empty: the scheme and host of each request.",
    )
    ssf_max_concurrent_pushes: int = _setting(8, SIGNALS, "Pushes to one SSF receiver in flight at once.")
    ssf_push_timeout: float = _setting(10.0, SIGNALS, "Seconds one push to an SSF receiver may take.")
    ssf_max_backoff: float = _setting(
        60.0,
        SIGNALS,
        "Longest wait, in seconds, between attempts to push an event a receiver did not take "
        "(the waits double from 0.2 s, with jitter).",
    )
    ssf_lease_ttl: float = _setting(
        10.0,
        SIGNALS,
        "Seconds a replica's lease on delivering to an SSF receiver lasts unless renewed: how soon "
        "another replica takes over from one that died.",
    )

    # Security
    tls_cert_file: str = _setting(
        "",
        SECURITY,
        "PEM certificate (chain) the gRPC server presents; with the key, the port speaks TLS only.",
    )
    tls_key_file: str = _setting("", SECURITY, "PEM private key of SESSION_TLS_CERT_FILE.")
    tls_client_ca_file: str = _setting(
        "",
        SECURITY,
        "PEM CA bundle: when set, every caller must present a client certificate it signed (mTLS).",
    )
    caller_jwks_file: str = _setting(
        "",
        SECURITY,
        "JWK Set file that verifies bearer caller tokens (authorization metadata), e.g. the "
        "cluster's service-account issuer keys; empty: no caller tokens.",
    )
    caller_issuer: str = _setting("", SECURITY, "Required iss of caller tokens.")
    caller_audience: str = _setting("", SECURITY, "Required aud of caller tokens.")
    authz_policy_file: str = _setting(
        "",
        SECURITY,
        "JSON or YAML policy naming which callers may call which RPCs; reloaded when it "
        "changes. Empty: every caller may call every RPC, which only SESSION_DEV or "
        "SESSION_ALLOW_UNAUTHENTICATED_CALLERS lets the service start with outside development.",
    )
    bind_sessions_to_caller: bool = _setting(
        True,
        SECURITY,
        "With caller identities (mTLS or caller tokens): a session can be refreshed, and revoked "
        "by refresh token, only by the caller that created it or one the policy lets share its "
        "sessions (share_sessions_with); others get SESSION_CLIENT_MISMATCH.",
    )
    dev: bool = _setting(
        False,
        SECURITY,
        "Development mode: allows a generated signing key and refresh-token key with a real Redis "
        "(tokens die with the process and replicas reject each other's), and a start without an "
        "authorization policy whatever the caller authentication (docs/security.md, fail closed).",
    )
    allow_unauthenticated_callers: bool = _setting(
        False,
        SECURITY,
        "Start although nothing identifies callers (neither SESSION_TLS_CLIENT_CA_FILE nor "
        "SESSION_CALLER_JWKS_FILE) and no policy is set, so that every process that reaches the "
        "port may call every RPC. Without it such a start refuses when SESSION_REDIS_URL or "
        "SESSION_TLS_CERT_FILE is set (production); the embedded Redis of development starts anyway.",
    )

    # Telemetry
    log_level: str = _setting("INFO", TELEMETRY, "Log level.", LOG_LEVELS)
    metrics_port: int = _setting(9464, TELEMETRY, "Port of the Prometheus /metrics endpoint; 0 disables it.")

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def tls(self) -> bool:
        """True when the gRPC port speaks TLS."""
        return bool(self.tls_cert_file)

    @property
    def gateway_headers(self) -> tuple[str, str, str, str]:
        """The identity headers: user id, session id, scopes, client id."""
        return (
            self.gateway_user_id_header,
            self.gateway_session_id_header,
            self.gateway_scopes_header,
            self.gateway_client_id_header,
        )

    @property
    def dpop_algorithm_list(self) -> tuple[str, ...]:
        """The DPoP proof algorithms, in the order given."""
        return tuple(self.dpop_algorithms.split())

    @property
    def embedded_redis(self) -> bool:
        """True when the service starts its own local redis-server."""
        return not self.redis_url

    @classmethod
    def from_sources(cls, environ: Mapping[str, str], argv: Sequence[str] | None = None) -> Settings:
        """Reads the environment, then applies flags given in ``argv`` on top."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = ENV_PREFIX + f.name.upper()
            if name in environ:
                values[f.name] = _convert(f, environ[name], name)
        if argv:
            parser = argparse.ArgumentParser(add_help=False)
            add_flags(parser)
            parsed = parser.parse_args(list(argv))
            values.update({k: v for k, v in vars(parsed).items() if v is not None})
        return cls(**values)


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Adds one ``--flag`` per setting, in a help section per group; unset flags stay None
    so the environment applies."""
    sections = {group: parser.add_argument_group(group.title, group.doc) for group in GROUPS}
    for f in dataclasses.fields(Settings):
        env = ENV_PREFIX + f.name.upper()
        sections[group_of(f)].add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=None,
            type=_flag_type(f),
            help=f"{f.metadata['doc']} [env {env}, default {f.default!r}]",
        )


def _flag_type(f: dataclasses.Field[Any]) -> Any:
    def parse(raw: str) -> Any:
        try:
            return _convert(f, raw, "--" + f.name.replace("_", "-"))
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e)) from e

    return parse


def _convert(f: dataclasses.Field[Any], raw: str, source: str) -> Any:
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind == "bool":
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(source, f"expected true or false, got {raw!r}")
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError as e:
        raise ConfigError(source, f"expected a number, got {raw!r}") from e
    return raw


def _validate(s: Settings) -> None:
    for f in dataclasses.fields(s):
        choices = f.metadata["choices"]
        if choices and getattr(s, f.name) not in choices:
            raise ConfigError(_env(f.name), f"must be one of {', '.join(choices)}")
    _require(s.port, 0, 65535, "port")
    _require(s.metrics_port, 0, 65535, "metrics_port")
    _require(s.access_token_ttl, 1, 86400, "access_token_ttl")
    _require(s.idle_timeout, 1, 10 * 365 * 86400, "idle_timeout")
    _require(s.absolute_timeout, 1, 10 * 365 * 86400, "absolute_timeout")
    _require(s.refresh_grace, 0, 300, "refresh_grace")
    _require(s.refresh_reuse_memory, 0, 1024, "refresh_reuse_memory")
    _require(s.max_sessions_per_user, 0, 100000, "max_sessions_per_user")
    _require(s.jwt_leeway, 0, 300, "jwt_leeway")
    _require(s.create_rate_per_user, 0, 1e6, "create_rate_per_user")
    _require(s.create_burst_per_user, 1, 1_000_000, "create_burst_per_user")
    _require(s.refresh_rate_per_user, 0, 1e6, "refresh_rate_per_user")
    _require(s.refresh_burst_per_user, 1, 1_000_000, "refresh_burst_per_user")
    _require(s.caller_rate_limit, 0, 10_000_000, "caller_rate_limit")
    _require(s.max_concurrent_rpcs, 0, 1_000_000, "max_concurrent_rpcs")
    _require(s.max_watchers, 0, 1_000_000, "max_watchers")
    _require(s.max_watchers_per_caller, 0, 1_000_000, "max_watchers_per_caller")
    _require(s.workers, 1, 1024, "workers")
    _require(s.risk_concurrent_window, 1, 86400, "risk_concurrent_window")
    _require(s.risk_rotation_burst_limit, 1, 100_000, "risk_rotation_burst_limit")
    if s.metrics_port:
        # Worker i serves metrics on metrics_port + i: the whole range must be free.
        metrics_ports = range(s.metrics_port, s.metrics_port + s.workers)
        if metrics_ports[-1] > 65535:
            raise ConfigError(_env("metrics_port"), "plus the number of workers must stay below 65536")
        if s.port in metrics_ports or (s.health_port and s.health_port in metrics_ports):
            raise ConfigError(
                _env("metrics_port"), "its range (one port per worker) must not hold the gRPC or health port"
            )
    _require(s.redis_timeout, 0.01, 600, "redis_timeout")
    _require(s.redis_retry_timeout, 0, 600, "redis_retry_timeout")
    _require(s.redis_wait_replicas, 0, 16, "redis_wait_replicas")
    _require(s.redis_wait_timeout, 0.001, 60, "redis_wait_timeout")
    _require(s.shutdown_grace, 0, 3600, "shutdown_grace")
    _require(s.health_interval, 0.05, 600, "health_interval")
    if s.idle_timeout > s.absolute_timeout:
        raise ConfigError(_env("idle_timeout"), "must not exceed SESSION_ABSOLUTE_TIMEOUT")
    if not s.redis_prefix or any(c in s.redis_prefix for c in "{} "):
        raise ConfigError(_env("redis_prefix"), "must be non-empty without braces or spaces")
    if not s.issuer:
        raise ConfigError(_env("issuer"), "must not be empty")
    if not s.audience:
        raise ConfigError(_env("audience"), "must not be empty")
    _require(s.exchange_max_ttl, 1, 86400, "exchange_max_ttl")
    _require(s.exchange_max_depth, 1, 32, "exchange_max_depth")
    _require(s.impersonation_max_ttl, 60, 86400, "impersonation_max_ttl")
    if s.redis_read_from_replicas and s.redis_mode != "cluster":
        raise ConfigError(_env("redis_read_from_replicas"), "only applies with SESSION_REDIS_MODE=cluster")
    _require(s.health_port, 0, 65535, "health_port")
    if s.health_port and s.health_port == s.port:
        raise ConfigError(_env("health_port"), "must differ from SESSION_PORT")
    if bool(s.tls_cert_file) != bool(s.tls_key_file):
        raise ConfigError(_env("tls_key_file"), "SESSION_TLS_CERT_FILE and SESSION_TLS_KEY_FILE go together")
    if s.tls_client_ca_file and not s.tls_cert_file:
        raise ConfigError(
            _env("tls_client_ca_file"), "mTLS needs SESSION_TLS_CERT_FILE and SESSION_TLS_KEY_FILE"
        )
    if s.caller_jwks_file and not (s.caller_issuer and s.caller_audience):
        raise ConfigError(
            _env("caller_jwks_file"), "caller tokens need SESSION_CALLER_ISSUER and SESSION_CALLER_AUDIENCE"
        )
    _validate_gateway(s)
    _validate_signals(s)
    _validate_exposure(s)
    _require(s.dpop_proof_max_age, 1, 3600, "dpop_proof_max_age")
    unknown = set(s.dpop_algorithm_list) - set(DPOP_ALGORITHMS)
    if unknown or not s.dpop_algorithm_list:
        raise ConfigError(_env("dpop_algorithms"), f"must name some of {', '.join(DPOP_ALGORITHMS)}")
    if s.redis_mode == "cluster" and s.embedded_redis:
        raise ConfigError(_env("redis_url"), "cluster mode needs the seed nodes' URLs")


# RFC 9110 token characters, lower-case: what every gateway accepts as a header name.
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
# RFC 6265 cookie-name (an RFC 9110 token).
_COOKIE_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
# Headers a gateway check must never set upstream: the request's own framing and credentials.
_RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "cookie",
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "te",
        "upgrade",
        "proxy-authorization",
        "www-authenticate",
    }
)


def _validate_exposure(s: Settings) -> None:
    """Fail closed: a start that would let callers do everything unchecked refuses, unless
    the settings say so in words (SESSION_DEV, SESSION_ALLOW_UNAUTHENTICATED_CALLERS)."""
    if s.authz_policy_file or s.dev:
        return
    identified_by = [_env(n) for n in ("tls_client_ca_file", "caller_jwks_file") if getattr(s, n)]
    if identified_by:
        raise ConfigError(
            _env("authz_policy_file"),
            f"must be set with {' and '.join(identified_by)}: without a policy every caller they "
            "authenticate may call every RPC; set SESSION_DEV=true to allow that for development",
        )
    if s.allow_unauthenticated_callers or (s.embedded_redis and not s.tls):
        return
    production = _env("tls_cert_file") if s.tls else _env("redis_url")
    raise ConfigError(
        _env("allow_unauthenticated_callers"),
        f"is false, but {production} is set (not development) while neither caller "
        "authentication (SESSION_TLS_CLIENT_CA_FILE or SESSION_CALLER_JWKS_FILE) nor "
        "SESSION_AUTHZ_POLICY_FILE is: every process that reaches the port could call every RPC. "
        "Configure callers and a policy, or set SESSION_ALLOW_UNAUTHENTICATED_CALLERS=true to "
        "accept that (SESSION_DEV=true for development)",
    )


def _validate_gateway(s: Settings) -> None:
    _require(s.forward_auth_port, 0, 65535, "forward_auth_port")
    metrics_ports = range(s.metrics_port, s.metrics_port + s.workers) if s.metrics_port else range(0)
    if s.forward_auth_port and (
        s.forward_auth_port in (s.port, s.health_port) or s.forward_auth_port in metrics_ports
    ):
        raise ConfigError(
            _env("forward_auth_port"),
            "must differ from the gRPC and health ports and from the metrics ports (one per worker)",
        )
    _require(s.gateway_cache_size, 0, 10_000_000, "gateway_cache_size")
    _require(s.gateway_freshness, 0.5, 300, "gateway_freshness")
    _require(s.gateway_trusted_proxies, 0, 32, "gateway_trusted_proxies")
    if not _COOKIE_NAME.fullmatch(s.forward_auth_cookie):
        raise ConfigError(_env("forward_auth_cookie"), "must be a cookie name (RFC 6265)")
    names = [
        f.name for f in dataclasses.fields(s) if f.name.startswith("gateway_") and f.name.endswith("_header")
    ]
    for name in names:
        value = getattr(s, name)
        if not _HEADER_NAME.fullmatch(value) or value in _RESERVED_HEADERS:
            raise ConfigError(_env(name), "must be a lower-case header name other than the request's own")
    if len(set(s.gateway_headers)) != len(s.gateway_headers):
        raise ConfigError(_env(names[0]), "the identity headers must have four different names")
    cert_header = s.forward_auth_client_cert_header
    if cert_header and (
        not _HEADER_NAME.fullmatch(cert_header)
        or cert_header in _RESERVED_HEADERS
        or cert_header in s.gateway_headers
    ):
        raise ConfigError(
            _env("forward_auth_client_cert_header"),
            "must be a lower-case header name other than the request's own and the identity headers",
        )


def _validate_signals(s: Settings) -> None:
    _require(s.signals_port, 0, 65535, "signals_port")
    metrics_ports = range(s.metrics_port, s.metrics_port + s.workers) if s.metrics_port else range(0)
    if s.signals_port and (
        s.signals_port in (s.port, s.health_port, s.forward_auth_port) or s.signals_port in metrics_ports
    ):
        raise ConfigError(
            _env("signals_port"),
            "must differ from the gRPC, health, forward-auth and metrics ports (one per worker)",
        )
    _require(s.signals_max_token_age, 10, 3600, "signals_max_token_age")
    for name in ("oidc_logout_issuers_file", "ssf_transmitters_file"):
        if getattr(s, name) and not s.signals_port:
            # A receiver nobody can reach would leave the identity provider's logouts unheard.
            raise ConfigError(_env(name), "needs SESSION_SIGNALS_PORT: its receiver is served there")
    _require(s.ssf_max_concurrent_pushes, 1, 256, "ssf_max_concurrent_pushes")
    _require(s.ssf_push_timeout, 0.1, 300, "ssf_push_timeout")
    _require(s.ssf_max_backoff, 0.1, 3600, "ssf_max_backoff")
    _require(s.ssf_lease_ttl, 0.3, 300, "ssf_lease_ttl")
    if s.ssf_public_url and not s.ssf_public_url.startswith(("https://", "http://")):
        raise ConfigError(_env("ssf_public_url"), "must be an http(s) URL")


def _require(value: float, low: float, high: float, name: str) -> None:
    if not low <= value <= high:
        raise ConfigError(_env(name), f"must be between {low} and {high}, got {value}")


def _env(name: str) -> str:
    return ENV_PREFIX + name.upper()
