"""The rules, as properties: chunk order and idempotence against a model; byte ranges."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.sessions import open_contact
from recordings import custody
from recordings.custody import RecordingError
from recordings.keys import RecordingsKey
from recordings.playback import parse_range
from recordings.store import open_store
from safecall.db import create_engine, session_factory
from safecall.errors import ApiError
from safecall.refusals import Conflict
from safecall.settings import Settings
from sealing.data_key import DataKey
from tests.support import FakeClock, copy_sqlite

BODIES = [b"a" * 10, b"b" * 20, b"c" * 5]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(BODIES)), max_size=12))
def test_chunks_follow_the_model(settings: Settings, ops: list[tuple[int, bytes]]) -> None:
    """Whatever arrives, in any order and repeated: what is kept is a gap-free prefix,
    each index once, with the first content sent for it; answers say so."""

    async def run() -> None:
        engine = create_engine(settings.database_url)
        db = session_factory(engine)
        store = open_store(
            settings.recordings_store,
            settings.var_dir / "recordings",
            RecordingsKey.load(settings.recordings_key_file),
            db,
        )
        now = FakeClock()()
        async with db() as session, session.begin():
            contact, _ = await open_contact(
                session,
                DataKey.load(settings.data_key_file),
                service_line="women",
                channel="phone",
                now=now,
            )
            recording = await custody.start(
                session,
                contact,
                kind="phone",
                media_type="audio/wav",
                tracks=[],
                key_id=store.key.current,
                now=now,
            )
        kept: list[bytes] = []
        for index, body in ops:
            try:
                received = await custody.add_chunk(db, store, recording.id, index, body, now)
            except RecordingError as exc:
                assert isinstance(exc, Conflict) and exc.next_index == len(kept)
                if index < len(kept):
                    assert exc.code == "chunk_conflict" and kept[index] != body
                else:
                    assert exc.code == "chunk_out_of_order" and index > len(kept)
                continue
            if received.created:
                assert index == len(kept)
                kept.append(body)
            else:
                assert index < len(kept) and kept[index] == body
            assert received.chunk.sha256 == hashlib.sha256(body).hexdigest()
        assert await custody.check(db, store, recording.id) is None
        async with db() as session:
            stored = await custody.chunks_of(session, recording.id)
        assert [c.index for c in stored] == list(range(len(kept)))
        assert [data async for data in custody.read_chunks(store, recording.id, stored)] == kept
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only here: the property runs many examples; the HTTP tests cover PostgreSQL."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


@given(
    size=st.integers(0, 5000),
    first=st.none() | st.integers(0, 6000),
    last=st.none() | st.integers(0, 6000),
)
def test_ranges_follow_rfc_9110(size: int, first: int | None, last: int | None) -> None:
    header = f"bytes={'' if first is None else first}-{'' if last is None else last}"
    try:
        got = parse_range(header, size)
    except ApiError as exc:
        assert exc.status == 416
        satisfiable = (first is None and last is not None and last > 0 and size > 0) or (
            first is not None and first < size and (last is None or last >= first)
        )
        assert not satisfiable
        return
    assert got is not None
    if first is None:
        assert last is not None and got.start == max(size - last, 0) and got.end == size - 1
    else:
        assert got.start == first and got.end == min(size - 1, last if last is not None else size)
    assert 0 <= got.start <= got.end < size
