"""SAFECALL_REDIS_URL in its Sentinel form: the app follows a real failover.

A master, a replica and three sentinels (Debian's redis-sentinel) run as
processes of the test's own; the master is killed; the app's Redis clients
reach the promoted replica, with what was written before the failover.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.exceptions import RedisError

from safecall.app import create_app
from safecall.redis_client import SentinelAddress, redis_client
from safecall.settings import Settings, SettingsError
from safecall.state import REDIS
from tests.deploy.redis_group import SERVICE, RedisGroup, ask, wait_until


@pytest.fixture
def group(tmp_path: Path) -> Iterator[RedisGroup]:
    if shutil.which("redis-sentinel") is None:
        pytest.fail("redis-sentinel is missing: bash scripts/test-services.sh installs it")
    servers = RedisGroup(tmp_path / "redis")
    servers.directory.mkdir()
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_app_reaches_the_promoted_replica(
    group: RedisGroup, settings: Settings, aiohttp_client: Any
) -> None:
    app = create_app(replace(settings, redis_url=group.url))
    client: TestClient[Any, Any] = await aiohttp_client(app)
    ready = await client.get("/readyz")
    assert (ready.status, (await ready.json())["redis"]) == (200, "ok")
    shared = app[REDIS]
    assert int((await shared.config_get("port"))["port"]) == group.master_port
    # The queue store's kind of client too: a bounded pool that makes a burst wait.
    pooled = redis_client(group.url, max_connections=4, wait=5, decode_responses=True)
    await pooled.set("safecall:deploy:before", "kept")
    assert await pooled.wait(1, 5000) == 1  # the replica has it before the master dies

    group.kill_master()
    promoted = group.replica_port
    wait_until(
        lambda: (
            ask(group.sentinel_ports[0], "sentinel_get_master_addr_by_name", SERVICE)
            == ("127.0.0.1", promoted)
        ),
        "the sentinels to promote the replica",
    )
    try:
        for _ in range(100):  # the first request after it may still meet the old socket
            ready = await client.get("/readyz")
            if ready.status == 200:
                break
        assert ready.status == 200, await ready.text()
        assert int((await shared.config_get("port"))["port"]) == promoted
        assert await shared.get("safecall:deploy:before") == "kept"
        for _ in range(100):
            try:
                await pooled.set("safecall:deploy:after", "written")  # a master: takes writes
                break
            except RedisError:
                continue
        assert int((await pooled.config_get("port"))["port"]) == promoted
        assert await pooled.get("safecall:deploy:after") == "written"
    finally:
        await pooled.aclose()


def test_the_sentinel_url_is_read_once_at_start() -> None:
    url = "redis+sentinel://:s3cret@10.0.0.1:26379,[::1]:26380,sentinel-c/safecall/2"
    address = SentinelAddress.parse(url)
    assert address.sentinels == (("10.0.0.1", 26379), ("::1", 26380), ("sentinel-c", 26379))
    assert (address.service, address.db, address.password) == ("safecall", 2, "s3cret")
    assert Settings.from_env({"SAFECALL_REDIS_URL": url}).redis_url == url


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://",  # no sentinel
        "redis+sentinel://h1:26379",  # no master name
        "redis+sentinel://h1:26379/safecall/zero",  # not a database number
        "redis+sentinel://h1:99999/safecall",  # not a port
        "redis+sentinel://h1/safecall/0?retries=3",  # an option we do not read
        "sentinel://h1/safecall",  # not a scheme we know
    ],
)
def test_a_bad_sentinel_url_stops_the_start_with_a_sentence(url: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"SAFECALL_REDIS_URL": url})
    message = str(refused.value)
    assert message.startswith("SAFECALL_REDIS_URL must be ")
    assert "redis+sentinel://" in message


def test_a_refused_url_does_not_repeat_its_password() -> None:
    url = "redis+sentinel://:hunter2-secret@h1:26379/safecall/x"
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"SAFECALL_REDIS_URL": url})
    assert "hunter2" not in str(refused.value)
    assert "redis+sentinel://:***@h1:26379/safecall/x" in str(refused.value)
