"""The database: the declarative base every model shares, and the async engine.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) runs at
scale. Both run the same migrations and the same tests.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from threading import Thread
from typing import Any

import aiosqlite
from sqlalchemy import DateTime, Dialect, MetaData, TypeDecorator, event, make_url
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.util.concurrency import await_

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
    connections of one process do not fail on a locked file; every commit is
    synced to disk (SQLite's default ``synchronous=FULL``: ``NORMAL`` measured no
    faster at 200 webhooks/s and could lose the last commits in a power cut).
    Each statement is one trip to aiosqlite's thread
    (:class:`_OneTripCursor`). PostgreSQL connections are checked at checkout
    without a round trip.
    """
    if url.startswith("sqlite+aiosqlite"):
        kwargs.setdefault("module", _ONE_TRIP_DBAPI)
        database = make_url(url).database or ":memory:"
        if ":memory:" not in database and "mode=memory" not in url:
            # Write transactions wait their turn holding a connection; a pool large
            # enough for them keeps reads served and avoids opening a connection (a
            # thread) for each overflow.
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 20)
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
    # Twilio gives up on a webhook after 15 s: a request waits at most 5 s for a pooled
    # connection or a new one, then is answered (503, or TwiML that holds and asks again).
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT)
    kwargs.setdefault("connect_args", {"timeout": CONNECT_TIMEOUT})
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "checkout")
    def _closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        # Instead of a ping (a round trip per checkout): asyncpg knows locally when
        # the server closed the socket (a restart); the pool then takes a new one.
        if dbapi_conn.driver_connection.is_closed():
            raise DisconnectionError("the database closed this connection")

    return engine


POOL_TIMEOUT = 5.0
"""Seconds a request waits for a pooled PostgreSQL connection (below Twilio's 15 s)."""
CONNECT_TIMEOUT = 5.0
"""Seconds to open a PostgreSQL connection (asyncpg waits 60 by default)."""


class _Ran:
    """What a statement left behind, read on the loop's thread (the sqlite3 cursor is not)."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount", "rows")

    def __init__(
        self,
        description: Any = None,
        rows: Sequence[Any] = (),
        rowcount: int = -1,
        lastrowid: int | None = None,
    ) -> None:
        self.description = description
        self.rows = rows
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.arraysize = 1

    def close(self) -> None:
        pass


def _run(connection: Any, operation: str, parameters: Any, many: bool) -> _Ran:
    """On aiosqlite's thread: the statement, its rows, its counts, the cursor closed."""
    conn: sqlite3.Connection = connection._conn
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return _Ran(description, rows, cursor.rowcount, cursor.lastrowid)
    finally:
        cursor.close()


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor makes up to four trips to aiosqlite's thread per
    statement (open the cursor, execute, fetch, close), each a wake-up of the event
    loop; this one makes one: the whole statement runs there, its rows come back."""

    __slots__ = ()
    _awaitable_cursor_close = False

    def _make_new_cursor(self, connection: Any) -> Any:
        return _Ran()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        ran = await self._trip(operation, parameters, False)
        if ran.description:
            self._rows = collections.deque(ran.rows)
        return None

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._trip(operation, seq_of_parameters, True)
        return None

    async def _trip(self, operation: str, parameters: Any, many: bool) -> _Ran:
        adapted: _OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        async with adapted._execute_mutex:
            if operation.lstrip()[:9].upper().startswith(_OPENS_WRITE) and adapted._idle():
                await adapted._take_writers()
            try:
                ran: _Ran = await self._connection._execute(
                    _run, self._connection, operation, parameters, many
                )
            finally:
                if adapted._idle():  # it failed before its transaction began
                    adapted._give_writers_back()
        self._cursor = ran  # type: ignore[assignment]  # what it left, not a cursor
        return ran


_OPENS_WRITE = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT")
"""The statements before which sqlite3 opens a transaction (and a savepoint opens one)."""
_WRITERS_WAIT = 30.0
"""Seconds a write transaction waits for the one before it (as the busy timeout)."""


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """A connection whose write transactions take their turn in the process.

    SQLite lets one transaction write at a time. Left to itself, a connection that
    finds the file locked sleeps and tries again (1 ms, then longer, up to 100 ms
    each time), and under load a sleeper keeps missing its turn: a webhook waited
    seconds. Here a transaction takes the process's writers' lock (first come, first
    served) before its first write, and gives it back when it commits or rolls back;
    reads never wait (WAL). Another process still meets the busy timeout.

    Commits and rolls back only when a transaction is open: a lone read opens none,
    and the pool's rollback when it takes the connection back then costs no trip.
    """

    __slots__ = ("_writers", "_writing")
    _cursor_cls = _OneTripCursor

    def __init__(self, dbapi: Any, connection: Any, writers: asyncio.Lock) -> None:
        super().__init__(dbapi, connection)
        self._writers = writers
        self._writing = False

    def _idle(self) -> bool:
        conn = self._connection._connection  # None once closed: then let aiosqlite say so
        return conn is not None and not conn.in_transaction

    async def _take_writers(self) -> None:
        if self._writing:
            return
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can time out a lock
            # it has just acquired, and that lock would never be given back.
            async with asyncio.timeout(_WRITERS_WAIT):
                await self._writers.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        self._writing = True

    def _give_writers_back(self) -> None:
        if self._writing:
            self._writing = False
            self._writers.release()

    def rollback(self) -> None:
        try:
            if not self._idle():
                super().rollback()
        finally:
            self._give_writers_back()

    def commit(self) -> None:
        try:
            if not self._idle():
                super().commit()
        finally:
            self._give_writers_back()

    def close(self) -> None:
        self._give_writers_back()
        super().close()

    def terminate(self) -> None:
        self._give_writers_back()
        super().terminate()


class _OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite as SQLAlchemy adapts it, with :class:`_OneTripCursor`."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)
        self._writers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = self.aiosqlite.connect(*arg, **kw)
        thread = connection if isinstance(connection, Thread) else connection._thread
        thread.daemon = True  # as SQLAlchemy does: a forgotten connection never blocks exit
        database = str(arg[0] if arg else kw.get("database", ""))
        locks = self._writers.setdefault(asyncio.get_running_loop(), {})
        writers = locks.setdefault(database, asyncio.Lock())
        return _OneTripConnection(self, await_(connection), writers)


_ONE_TRIP_DBAPI = _OneTripDbapi()


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
