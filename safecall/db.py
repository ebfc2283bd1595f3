"""The database: the declarative base every model shares, and the async engine.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) runs at
scale. Both run the same migrations and the same tests.
"""

from __future__ import annotations

import weakref
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData, TypeDecorator, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    """Now, timezone-aware UTC (stored as UTC on both databases)."""
    return datetime.now(UTC)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine with the settings each database needs.

    SQLite gets foreign keys, WAL and a busy timeout so that several
    connections of one process do not fail on a locked file. PostgreSQL
    connections are checked at checkout without a round trip.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "checkout")
    def _closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        # Instead of a ping (a round trip per checkout): asyncpg knows locally when
        # the server closed the socket (a restart); the pool then takes a new one.
        if dbapi_conn.driver_connection.is_closed():
            raise DisconnectionError("the database closed this connection")

    return engine


_READERS: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The engine for a lone read: on PostgreSQL in autocommit, so the read is one
    round trip (no BEGIN, no ROLLBACK); on SQLite the engine itself (no round trips)."""
    found = _READERS.get(engine)
    if found is None:
        found = engine
        if engine.dialect.name == "postgresql":
            found = engine.execution_options(isolation_level="AUTOCOMMIT")
        _READERS[engine] = found
    return found


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone; without this, values read from it are naive.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
