"""Static files: versioned addresses, compressed by Accept-Encoding, cached only when versioned.

Pages and every /api answer are never cached (they may hold her data); static files hold
only the pages' code and looks, so a versioned one is cached for a year.
"""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from safecall.assets import IMMUTABLE, Assets, brotli, chosen_encoding, slim
from safecall.pages import WEB
from tests.support import copy_sqlite

ROOT = Path(__file__).parents[1]
VERSIONED = re.compile(r'"/static/([a-z0-9.-]+)\?v=([0-9a-f]{16})"')


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: files and headers do not depend on the database."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


async def test_the_citizen_page_names_its_files_by_version_and_they_are_cached(client: Any) -> None:
    page = await client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Content-Encoding"] == "gzip"
    assert page.headers["Vary"] == "Accept-Encoding"
    named = VERSIONED.findall(await page.text())  # aiohttp's client inflates it
    assert {"citizen.js", "citizen.css", "signal.js"} <= {name for name, _ in named}
    for name, version in named:
        served = await client.get(f"/static/{name}?v={version}")
        assert served.status == 200, name
        assert served.headers["Cache-Control"] == IMMUTABLE
        assert "ETag" not in served.headers  # never asked again
        assert served.headers["Server"] == "safecall"  # no versions told
        assert served.headers["Vary"] == "Accept-Encoding"


async def test_a_file_asked_without_its_version_is_revalidated_with_an_etag(client: Any) -> None:
    served = await client.get("/static/citizen.js", headers={"Accept-Encoding": "gzip"})
    assert served.headers["Cache-Control"] == "no-cache"
    tag = served.headers["ETag"]
    again = await client.get(
        "/static/citizen.js", headers={"Accept-Encoding": "gzip", "If-None-Match": tag}
    )
    assert again.status == 304
    assert await again.read() == b""
    # The same tag does not stand for another encoding of the file.
    plain = await client.get(
        "/static/citizen.js", headers={"Accept-Encoding": "identity", "If-None-Match": tag}
    )
    assert plain.status == 200
    assert "Content-Encoding" not in plain.headers
    old = await client.get("/static/citizen.js?v=0000000000000000")
    assert old.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip, deflate, br", "br" if brotli else "gzip"),
        ("gzip", "gzip"),
        ("br;q=0, gzip;q=0.5", "gzip"),
        ("identity", "identity"),
        ("", "identity"),
        ("gzip;q=0", "identity"),
        ("*", "br" if brotli else "gzip"),
    ],
)
async def test_the_encoding_follows_accept_encoding(
    client: Any, accept: str, expected: str
) -> None:
    served = await client.get(
        "/static/citizen.css", headers={"Accept-Encoding": accept}, auto_decompress=False
    )
    raw = await served.read()
    assert served.headers.get("Content-Encoding", "identity") == expected
    assert served.headers["Vary"] == "Accept-Encoding"
    plain = slim((WEB / "citizen.css").read_text(), ".css").encode()  # as sent
    if expected == "gzip":
        assert gzip.decompress(raw) == plain
        assert len(raw) < len(plain)
    elif expected == "br":
        assert brotli is not None and brotli.decompress(raw) == plain
    else:
        assert raw == plain


def test_accept_encoding_parsing_ignores_nonsense() -> None:
    offered = {"identity": b"", "gzip": b""}
    assert chosen_encoding("gzip;q=nonsense", offered) == "identity"
    assert chosen_encoding(" GZIP ", offered) == "gzip"
    assert chosen_encoding(",,;", offered) == "identity"


def test_a_version_changes_when_the_file_or_a_file_it_names_changes(tmp_path: Path) -> None:
    (tmp_path / "api.js").write_text("export const a = 1;\n")
    (tmp_path / "page.js").write_text('import { a } from "./api.js";\n')
    (tmp_path / "page.html").write_text('<script type="module" src="/static/page.js"></script>')
    before = Assets.build(tmp_path)
    assert 'from "./api.js?v=' + before.files["api.js"].version in (
        before.files["page.js"].bodies["identity"].decode()
    )
    (tmp_path / "api.js").write_text("export const a = 2;\n")
    after = Assets.build(tmp_path)
    for name in ("api.js", "page.js", "page.html"):
        assert after.files[name].version != before.files[name].version, name
    assert after.url("page.js") in after.files["page.html"].bodies["identity"].decode()
    assert Assets.build(tmp_path).url("page.js") == after.url("page.js")  # stable


async def test_pages_and_api_answers_are_compressed_but_never_stored(client: Any) -> None:
    for path in ("/", "/track", "/console"):
        page = await client.get(path, headers={"Accept-Encoding": "gzip"})
        assert page.headers["Cache-Control"] == "no-store", path
        assert "ETag" not in page.headers, path
    # Her contact's answer carries her token: never kept (GET /api/districts, a public list
    # of names, is the one answer cached for an hour).
    api = await client.post("/api/contacts", json={"service_line": "women", "channel": "chat"})
    assert api.status == 201
    assert api.headers["Cache-Control"] == "no-store"
    assert (await client.get("/static/index.html")).status == 404  # pages only as pages


async def test_the_districts_everyone_gets_are_compressed_and_files_carry_no_page_policy(
    client: Any,
) -> None:
    districts = await client.get("/api/districts", headers={"Accept-Encoding": "gzip"})
    assert districts.headers["Content-Encoding"] == "gzip"
    assert districts.headers["Vary"] == "Accept-Encoding"
    assert districts.headers["Content-Type"].startswith("application/json")
    assert len((await districts.json())["districts"]) > 30
    script = await client.get("/static/citizen.js")
    assert "Content-Security-Policy" not in script.headers  # a file is not a document
    assert script.headers["X-Content-Type-Options"] == "nosniff"


def test_slimmed_scripts_are_the_same_programs(tmp_path: Path) -> None:
    """Whole-line comments and indentation go; every script still parses to the same
    program (espree, ESLint's parser, from node_modules)."""
    if not (ROOT / "node_modules" / "espree").is_dir():
        raise AssertionError("node_modules/espree is missing: run `npm ci` (make test does)")
    pairs: list[str] = []
    for path in sorted(WEB.glob("*.js")):
        slimmed = tmp_path / path.name
        slimmed.write_text(slim(path.read_text(), ".js"))
        pairs += [str(path), str(slimmed)]
    run = subprocess.run(
        ["node", str(ROOT / "tests" / "same_program.mjs"), *pairs],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert run.returncode == 0, f"programs changed by slimming: {run.stdout}{run.stderr}"
    assert len(pairs) > 40


def test_slimming_drops_comments_and_indentation_but_keeps_template_literals() -> None:
    script = "// a comment\nconst a = `one\n  // kept: inside the text\n`;\n  /** doc */\n  f(a);\n"
    assert slim(script, ".js") == "const a = `one\n  // kept: inside the text\n`;\nf(a);\n"
    odd = "// a `quoted` word\nconst b = '`';\n  g(b);\n"
    assert slim(odd, ".js") == odd  # a lone backtick in a string: left whole
    assert slim("a {\n  color: red; /* why */\n}\n", ".css") == "a {\ncolor: red;\n}"
    page = "<p>\n  text\n</p>\n"
    assert slim(page, ".html") == page
