"""Evidence bundles: exported, verified offline against the pinned key, tampering named."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.log import ensure_signing_key, load_signing_key
from cases.sessions import mark_answered, open_contact
from officers.models import Officer
from recordings import custody
from recordings.keys import RecordingsKey
from recordings.store import open_store
from safecall import cli
from safecall.db import create_engine, session_factory
from safecall.settings import Settings
from sealing.data_key import DataKey
from tests.recordings.conftest import random_chunks
from tests.support import FakeClock


def _record_case(settings: Settings, chunks: list[bytes]) -> tuple[int, str]:
    async def run() -> tuple[int, str]:
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
            officer = Officer(
                badge="E-1",
                name="Evidence Officer",
                role="officer",
                gender="female",
                languages=["ur"],
                skills={},
                lines=["women"],
                password_hash="x",
            )
            session.add(officer)
            await session.flush()
            contact, case = await open_contact(
                session,
                DataKey.load(settings.data_key_file),
                service_line="women",
                channel="phone",
                now=now,
            )
            await mark_answered(session, contact, officer_id=officer.id, answered_at=now)
            recording = await custody.start(
                session,
                contact,
                kind="phone",
                media_type="audio/wav",
                tracks=["caller", "officer"],
                key_id=store.key.current,
                now=now,
            )
        for index, chunk in enumerate(chunks):
            await custody.add_chunk(db, store, recording.id, index, chunk, now)
        await custody.close(db, store, recording.id, state="complete", now=now)
        await engine.dispose()
        return case.id, recording.id

    return asyncio.run(run())


@pytest.fixture
def bundle(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, Path, str, bytes]:
    """(bundle folder, public key file, recording id, content)."""
    chunks = random_chunks(3, 3000)
    case_id, recording_id = _record_case(env, chunks)
    out = tmp_path / "bundle"
    assert cli.main(["evidence", "export", str(case_id), str(out)]) == 0
    public = tmp_path / "evidence.pub"
    capsys.readouterr()
    assert cli.main(["evidence", "public-key"]) == 0
    public.write_text(capsys.readouterr().out)
    return out, public, recording_id, b"".join(chunks)


def test_a_bundle_verifies_against_the_published_key(
    bundle: tuple[Path, Path, str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    out, public, recording_id, content = bundle
    assert (out / f"recordings/{recording_id}.wav").read_bytes() == content
    manifest = json.loads((out / "manifest.json").read_text())
    entry = manifest["recordings"][0]
    assert entry["sha256"] == hashlib.sha256(content).hexdigest()
    assert [c["index"] for c in entry["chunks"]] == [0, 1, 2]
    assert manifest["officers"][0]["badge"] == "E-1"
    trail = json.loads((out / "audit.json").read_text())
    assert "evidence.export" in [e["action"] for e in trail]
    timeline = json.loads((out / "timeline.json").read_text())
    assert "recording.complete" in [e["kind"] for e in timeline]
    assert cli.main(["evidence", "verify", str(out), "--key", str(public)]) == 0
    assert "bundle intact: 1 recording(s), 3 chunk(s)" in capsys.readouterr().out


def _flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))


def _resign(out: Path, key: Ed25519PrivateKey) -> None:
    (out / "manifest.sig").write_text(key.sign((out / "manifest.json").read_bytes()).hex() + "\n")


@pytest.mark.parametrize(
    "tamper",
    [
        "recording_byte",
        "recording_byte_resigned_other_key",
        "manifest_hash_resigned_other_key",
        "chunk_hash_resigned_real_key",
        "audit",
        "timeline",
        "extra_file",
        "missing_file",
        "signature",
    ],
)
def test_tampering_is_named(
    bundle: tuple[Path, Path, str, bytes],
    capsys: pytest.CaptureFixture[str],
    env: Settings,
    tmp_path: Path,
    tamper: str,
) -> None:
    out, public, recording_id, _ = bundle
    media = out / f"recordings/{recording_id}.wav"
    other = Ed25519PrivateKey.generate()
    expected = ""
    if tamper.startswith("recording_byte"):
        _flip(media, 4000)  # in chunk 1 (chunks are 3000, 3997, 4994 bytes)
        expected = f"recordings/{recording_id}.wav: does not match its SHA-256"
        if tamper.endswith("other_key"):
            _resign(out, other)
            expected = "manifest.sig"
    elif tamper == "manifest_hash_resigned_other_key":
        manifest = json.loads((out / "manifest.json").read_text())
        manifest["files"][f"recordings/{recording_id}.wav"] = "0" * 64
        (out / "manifest.json").write_text(json.dumps(manifest))
        _resign(out, other)
        expected = "manifest.sig: the manifest is not signed by the given key"
    elif tamper == "chunk_hash_resigned_real_key":
        # Even a manifest signed with the real key is checked inside: a chunk list
        # that does not chain is named.
        _flip(media, 4000)
        manifest = json.loads((out / "manifest.json").read_text())
        manifest["files"][f"recordings/{recording_id}.wav"] = hashlib.sha256(
            media.read_bytes()
        ).hexdigest()
        (out / "manifest.json").write_text(json.dumps(manifest))
        _resign(out, load_signing_key(env.evidence_key_file))
        expected = f"recording {recording_id} chunk 1: bytes 3000-6996"
    elif tamper == "audit":
        text = (out / "audit.json").read_text().replace("evidence.export", "evidence.exporx")
        (out / "audit.json").write_text(text)
        expected = "audit.json: does not match its SHA-256"
    elif tamper == "timeline":
        _flip(out / "timeline.json", 10)
        expected = "timeline.json: does not match its SHA-256"
    elif tamper == "extra_file":
        (out / "recordings" / "note.txt").write_text("added later")
        expected = "recordings/note.txt: is in the bundle but not in the signed manifest"
    elif tamper == "missing_file":
        media.unlink()
        expected = f"recordings/{recording_id}.wav: is listed in the manifest but missing"
    elif tamper == "signature":
        _flip(out / "manifest.json", 30)
        expected = "manifest.sig"
    assert cli.main(["evidence", "verify", str(out), "--key", str(public)]) == 1
    err = capsys.readouterr().err
    assert "bundle BROKEN at " + expected in err


def test_verify_trusts_only_the_pinned_key(
    bundle: tuple[Path, Path, str, bytes], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out, _, _, _ = bundle
    capsys.readouterr()
    stranger = tmp_path / "stranger.key"
    ensure_signing_key(stranger)
    assert cli.main(["evidence", "verify", str(out), "--key", str(stranger)]) == 1
    assert "not signed by the given key" in capsys.readouterr().err
    assert cli.main(["evidence", "verify", str(out), "--key", str(tmp_path / "none.pem")]) == 2


def test_export_refuses_an_existing_folder_and_an_unknown_case(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["evidence", "export", "1", str(tmp_path)]) == 2
    assert "exists" in capsys.readouterr().err
    assert cli.main(["evidence", "export", "99", str(tmp_path / "new")]) == 2
    assert "there is no case 99" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_export_survives_a_case_without_recordings(env: Settings, tmp_path: Path) -> None:
    case_id, _rid = _record_case(env, [])
    out = tmp_path / "b"
    assert cli.main(["evidence", "export", str(case_id), str(out)]) == 0
    assert cli.main(["evidence", "public-key"]) == 0
