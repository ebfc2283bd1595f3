"""The recordings key file: created by `safecall keys`, rotated by adding a line on top."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from recordings.keys import RecordingsKey
from recordings.store import ChunkError, DirectoryStore
from safecall import cli

RID = "ab" * 16
NO_SESSION: Any = None  # the directory store writes no row


def test_keys_command_creates_the_recordings_and_evidence_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAFECALL_VAR_DIR", str(tmp_path))
    assert cli.main(["keys"]) == 0
    out = capsys.readouterr().out
    assert f"created {tmp_path / 'recordings.key'}" in out
    assert f"created {tmp_path / 'evidence.key'}" in out
    assert (tmp_path / "recordings.key").stat().st_mode & 0o777 == 0o600
    key = (tmp_path / "recordings.key").read_text()
    assert cli.main(["keys"]) == 0
    assert f"kept    {tmp_path / 'recordings.key'}" in capsys.readouterr().out
    assert (tmp_path / "recordings.key").read_text() == key
    assert cli.main(["evidence", "public-key"]) == 0
    assert capsys.readouterr().out.startswith("-----BEGIN PUBLIC KEY-----")


async def test_chunks_sealed_before_a_rotation_still_open(tmp_path: Path) -> None:
    path = tmp_path / "recordings.key"
    RecordingsKey.ensure_file(path)
    old = DirectoryStore(tmp_path / "rec", RecordingsKey.load(path))
    data = os.urandom(1000)
    blob, kid = await old.write(RID, 0, data, NO_SESSION)
    path.write_text(RecordingsKey.line("r2") + path.read_text())
    rotated = DirectoryStore(tmp_path / "rec", RecordingsKey.load(path))
    assert rotated.key.current == "r2" and kid == "r1"
    assert await rotated.read(RID, 0, blob) == data
    blob2, kid2 = await rotated.write(RID, 1, data, NO_SESSION)
    assert kid2 == "r2"
    # A chunk read as another index, or another recording, does not open.
    with pytest.raises(ChunkError, match="does not open"):
        await rotated.read(RID, 1, blob)
    (tmp_path / "rec" / ("cd" * 16)).mkdir()
    os.link(tmp_path / "rec" / RID / blob2, tmp_path / "rec" / ("cd" * 16) / blob2)
    with pytest.raises(ChunkError, match="does not open"):
        await rotated.read("cd" * 16, 1, blob2)
    # Without the old key, the old chunk is named as sealed by a missing key.
    path.write_text(RecordingsKey.line("r3"))
    with pytest.raises(ChunkError, match="key 'r1', not in the key file"):
        await DirectoryStore(tmp_path / "rec", RecordingsKey.load(path)).read(RID, 0, blob)


def test_a_bad_key_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "recordings.key"
    with pytest.raises(ValueError, match="run `safecall keys`"):
        RecordingsKey.load(path)
    path.write_text("r1:not base64!\n")
    with pytest.raises(ValueError, match="line 1"):
        RecordingsKey.load(path)
    path.write_text("r1:AAAA\n")
    with pytest.raises(ValueError, match="32 bytes"):
        RecordingsKey.load(path)
