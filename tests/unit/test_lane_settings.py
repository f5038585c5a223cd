"""The lane's connection settings, read from SESSION_REDIS_URL and the Redis settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from session_service.config import Settings
from session_service.errors import ConfigError
from session_service.store.connect import script_lane
from session_service.store.lane import ClusterLane, ScriptLane


def test_a_standalone_url_gives_user_password_database_and_tls() -> None:
    url = "rediss://sessions:p%40ss@redis.example:7000/3"
    lane = script_lane(Settings(dev=True, redis_url=url), url)
    assert isinstance(lane, ScriptLane)
    options = lane.node._options
    assert lane.node.address == ("redis.example", 7000)
    assert (options.username, options.password, options.database) == ("sessions", "p@ss", 3)
    assert options.tls is not None


def test_a_unix_socket_url_and_a_password_file(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("from-file\n")
    settings = Settings(dev=True, redis_password_file=str(password))
    lane = script_lane(settings, "unix:///run/redis.sock?db=2")
    assert isinstance(lane, ScriptLane)
    options = lane.node._options
    assert (options.unix_socket, options.password, options.database, options.tls) == (
        "/run/redis.sock",
        "from-file",
        2,
        None,
    )


def test_cluster_seeds_and_replica_reads() -> None:
    url = "redis://a:7000,redis://b:7001"
    settings = Settings(dev=True, redis_url=url, redis_mode="cluster", redis_read_from_replicas=True)
    lane = script_lane(settings, url)
    assert isinstance(lane, ClusterLane)
    assert lane._seeds == [("a", 7000), ("b", 7001)]
    assert lane._read_from_replicas


def test_a_url_that_is_not_redis_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        script_lane(Settings(dev=True), "http://example")
