"""Every Redis client of the app is made here, from ``SAFECALL_REDIS_URL``.

Two forms of URL:

- ``redis://[user:password@]host:port/db`` (also ``rediss://`` and ``unix://``): one
  Redis server, as redis-py reads it.
- ``redis+sentinel://[user:password@]host1:26379,host2:26379,host3:26379/name/db``:
  Redis Sentinel. The client asks the sentinels which server is the master of
  ``name`` before each new connection, so after a failover its next connection
  reaches the promoted replica. The user and password are the Redis servers'
  (Sentinel's own, when it has one: ``?sentinel_password=...``).

Callers pass the redis-py options they need (``decode_responses``, timeouts,
``client_name``); ``max_connections`` with ``wait`` gives a pool that makes a burst
wait for a free connection instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

SENTINEL_SCHEME = "redis+sentinel://"
PLAIN_SCHEMES = ("redis://", "rediss://", "unix://")
SENTINEL_PORT = 26379
_EXAMPLE = "redis+sentinel://host1:26379,host2:26379,host3:26379/safecall/0"


@dataclass(frozen=True)
class SentinelAddress:
    """Where the sentinels are and which master they watch, parsed from a URL."""

    sentinels: tuple[tuple[str, int], ...]
    """(host, port) of each sentinel, in the URL's order."""
    service: str
    """The master's name in the sentinels' configuration (``sentinel monitor <name>``)."""
    db: int = 0
    """The Redis database number."""
    username: str | None = None
    password: str | None = None
    """Of the Redis servers (master and replicas)."""
    sentinel_password: str | None = None
    """Of the sentinels themselves, when they require one."""

    @classmethod
    def parse(cls, url: str) -> SentinelAddress:
        """The address of ``url``; ValueError says what a good one looks like."""
        if not url.startswith(SENTINEL_SCHEME):
            raise ValueError(f"a {SENTINEL_SCHEME} URL such as {_EXAMPLE}")
        rest, _, query = url[len(SENTINEL_SCHEME) :].partition("?")
        netloc, _, path = rest.partition("/")
        userinfo, _, hosts = netloc.rpartition("@")
        username = password = None
        if userinfo:
            user, _, secret = userinfo.partition(":")
            username, password = unquote(user) or None, unquote(secret) or None
        sentinels = tuple(_host_port(h) for h in hosts.split(",") if h.strip())
        parts = [p for p in path.split("/") if p]
        if not sentinels or not 1 <= len(parts) <= 2 or not _is_name(parts[0]):
            raise ValueError(f"a {SENTINEL_SCHEME} URL such as {_EXAMPLE}")
        db = 0
        if len(parts) == 2:
            if not parts[1].isdigit():
                raise ValueError(f"a database number after the master's name, as in {_EXAMPLE}")
            db = int(parts[1])
        options = parse_qs(query)
        unknown = set(options) - {"sentinel_password"}
        if unknown:
            raise ValueError(f"a {SENTINEL_SCHEME} URL whose only option is sentinel_password")
        sentinel_password = options.get("sentinel_password", [None])[0]
        return cls(sentinels, parts[0], db, username, password, sentinel_password)


def _host_port(item: str) -> tuple[str, int]:
    item = item.strip()
    if item.startswith("["):  # [IPv6]:port
        host, _, port = item[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = item.partition(":")
    if not host or any(c.isspace() or c in "/@" for c in host):
        raise ValueError(f"a {SENTINEL_SCHEME} URL such as {_EXAMPLE}")
    if not port:
        return host, SENTINEL_PORT
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"sentinel ports from 1 to 65535, as in {_EXAMPLE}")
    return host, int(port)


def _is_name(name: str) -> bool:
    return 0 < len(name) <= 64 and all(c.isalnum() or c in "-_." for c in name)


def check_url(url: str) -> str:
    """``url`` when it is a Redis URL this module can use; ValueError otherwise."""
    if url.startswith(SENTINEL_SCHEME):
        SentinelAddress.parse(url)
        return url
    if not url.startswith(PLAIN_SCHEMES):
        raise ValueError(
            f"a redis:// URL such as redis://127.0.0.1:6379/0, or a Sentinel URL such as {_EXAMPLE}"
        )
    return url


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool (asks for the master on each new connection) that makes a
    caller wait for a free connection, as BlockingConnectionPool does."""


class _SentinelRedis(Redis):
    """A master client that also closes its connections to the sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        pool = self.connection_pool
        if isinstance(pool, SentinelConnectionPool):
            for sentinel in pool.sentinel_manager.sentinels:
                await sentinel.aclose()


def redis_client(
    url: str,
    *,
    max_connections: int | None = None,
    wait: float | None = None,
    **options: Any,
) -> Redis:
    """A client for ``url`` (either form); ``options`` go to redis-py's connections."""
    if url.startswith(SENTINEL_SCHEME):
        return _sentinel_client(SentinelAddress.parse(url), max_connections, wait, options)
    if max_connections is not None:
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=wait, **options
        )
        return Redis(connection_pool=pool)
    return Redis.from_url(url, **options)


def _sentinel_client(
    where: SentinelAddress, max_connections: int | None, wait: float | None, options: Any
) -> Redis:
    sentinel_options: dict[str, Any] = {
        k: v for k, v in options.items() if k in ("socket_connect_timeout", "socket_timeout")
    }
    if where.sentinel_password:
        sentinel_options["password"] = where.sentinel_password
    sentinel = Sentinel(where.sentinels, sentinel_kwargs=sentinel_options)
    kwargs: dict[str, Any] = {"db": where.db, **options}
    if where.username:
        kwargs["username"] = where.username
    if where.password:
        kwargs["password"] = where.password
    pool_class: type[SentinelConnectionPool] = SentinelConnectionPool
    if max_connections is not None:
        pool_class = _BlockingSentinelPool
        kwargs.update(max_connections=max_connections, timeout=wait)
    client: Redis = sentinel.master_for(
        where.service, redis_class=_SentinelRedis, connection_pool_class=pool_class, **kwargs
    )
    return client
