"""Builds, from the settings, the lane (store/lane.py: every script and hot read) and the
redis-py asyncio client (the paths off the hot path: stream reads, script loading, pings)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.cluster import LoadBalancingStrategy

from session_service.config import Settings
from session_service.errors import ConfigError
from session_service.store.execution import ExecutionPolicy
from session_service.store.lane import ClusterLane, Lane, LinkOptions, RoundTripSpans, ScriptLane


def execution_policy(settings: Settings) -> ExecutionPolicy:
    """Retry budget and durability from the settings."""
    return ExecutionPolicy(
        retry_timeout=settings.redis_retry_timeout,
        wait_replicas=settings.redis_wait_replicas,
        wait_timeout_ms=max(1, int(settings.redis_wait_timeout * 1000)),
    )


def script_lane(settings: Settings, url: str, spans: RoundTripSpans | None = None) -> Lane:
    """The lane for ``url`` (comma-separated seeds in cluster mode), connected on first use;
    ``spans`` traces its round trips."""
    if settings.redis_mode != "cluster" and url.startswith("unix://"):
        socket = urlsplit(url)
        options = LinkOptions(
            timeout=settings.redis_timeout,
            username=unquote(socket.username) if socket.username else None,
            password=_password(settings) or (unquote(socket.password) if socket.password else None),
            database=_database(socket._replace(path="")),
            unix_socket=socket.path,
        )
        return ScriptLane((socket.path, 0), options, spans)
    parts = (
        [_redis_url(raw) for raw in url.split(",")] if settings.redis_mode == "cluster" else [_redis_url(url)]
    )
    first = parts[0]
    password = _password(settings) or (unquote(first.password) if first.password else None)
    tls: ssl.SSLContext | None = None
    if any(p.scheme == "rediss" for p in parts) or settings.redis_tls_ca_file:
        tls = ssl.create_default_context(cafile=_ca_file(settings))
    options = LinkOptions(
        timeout=settings.redis_timeout,
        username=unquote(first.username) if first.username else None,
        password=password,
        database=_database(first),
        tls=tls,
    )
    addresses = [(p.hostname or "localhost", p.port or 6379) for p in parts]
    if settings.redis_mode == "cluster":
        return ClusterLane(
            addresses, options, read_from_replicas=settings.redis_read_from_replicas, spans=spans
        )
    return ScriptLane(addresses[0], options, spans)


def _redis_url(raw: str) -> SplitResult:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ConfigError("SESSION_REDIS_URL", f"{raw!r} is not a redis:// or rediss:// URL")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise ConfigError("SESSION_REDIS_URL", str(e)) from e
    return parts


def _database(parts: SplitResult) -> int:
    text = parts.path.strip("/") or parse_qs(parts.query).get("db", ["0"])[0]
    try:
        return int(text or 0)
    except ValueError as e:
        raise ConfigError("SESSION_REDIS_URL", f"database {text!r} is not a number") from e


def _password(settings: Settings) -> str | None:
    if not settings.redis_password_file:
        return None
    try:
        return Path(settings.redis_password_file).read_text().strip()
    except OSError as e:
        raise ConfigError("SESSION_REDIS_PASSWORD_FILE", str(e)) from e


def _ca_file(settings: Settings) -> str | None:
    if not settings.redis_tls_ca_file:
        return None
    if not Path(settings.redis_tls_ca_file).is_file():
        raise ConfigError("SESSION_REDIS_TLS_CA_FILE", "file not found")
    return settings.redis_tls_ca_file


def redis_client(settings: Settings, url: str) -> Any:
    """A standalone or cluster client for ``url`` (comma-separated seeds in cluster mode)."""
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
        "decode_responses": False,
        # No retries inside redis-py: store/execution.py decides what is safe to retry.
        "retry": Retry(NoBackoff(), 0),
    }
    password = _password(settings)
    if password is not None:
        options["password"] = password
    ca_file = _ca_file(settings)
    if ca_file:
        options["ssl_ca_certs"] = ca_file
    if settings.redis_mode == "cluster":
        if settings.redis_read_from_replicas:
            options["load_balancing_strategy"] = LoadBalancingStrategy.ROUND_ROBIN_REPLICAS
        return _cluster_client(url, options)
    try:
        return Redis.from_url(url, **options)
    except ValueError as e:
        raise ConfigError("SESSION_REDIS_URL", str(e)) from e


def _cluster_client(urls: str, options: dict[str, Any]) -> Any:
    nodes = []
    tls = False
    for raw in urls.split(","):
        parts = urlsplit(raw.strip())
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ConfigError("SESSION_REDIS_URL", f"{raw!r} is not a redis:// or rediss:// URL")
        tls = tls or parts.scheme == "rediss"
        if parts.username:
            options["username"] = parts.username
        if parts.password and "password" not in options:
            options["password"] = parts.password
        nodes.append(ClusterNode(parts.hostname, parts.port or 6379))
    if tls:
        options["ssl"] = True
    # After every few MOVED replies redis-py would otherwise close the whole client to
    # re-read the topology, cutting the replies of calls in flight on other connections
    # (a lost reply makes a Create fail, see execution.py). Patching the slot map from
    # each MOVED, which it also does, is enough during resharding.
    return RedisCluster(startup_nodes=nodes, reinitialize_steps=0, **options)
