"""A cluster of their own for each module of tests/cluster: they move slots, kill and freeze nodes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redis_cluster import LocalRedisCluster, local_cluster


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[LocalRedisCluster]:
    """A started 6-node cluster for this module only."""
    with local_cluster() as cluster:
        yield cluster
