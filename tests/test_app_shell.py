"""The installable app: manifest, service worker, offline page; disguise settings.

The browser side (installed, then offline) is in tests/calls/test_app.py.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from safecall.app_shell import files, manifest, shell
from safecall.assets import Assets
from safecall.pages import WEB
from safecall.settings import Settings, SettingsError
from tests.support import copy_sqlite


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: files and headers do not depend on the database."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


async def test_the_manifest_names_a_neutral_app_that_starts_as_the_app(client: Any) -> None:
    response = await client.get("/manifest.webmanifest")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/manifest+json"
    found = json.loads(await response.read())
    assert found["name"] == "Help"
    assert found["start_url"] == "/?app=1"
    assert found["display"] == "standalone"
    sizes = {icon["sizes"] for icon in found["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in found["icons"]:
        served = await client.get(icon["src"])
        assert served.status == 200
        assert served.headers["Content-Type"] == "image/png"
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        png = await served.read()
        width, height = struct.unpack(">II", png[16:24])
        assert f"{width}x{height}" == icon["sizes"]


def test_a_deployment_can_disguise_the_app() -> None:
    settings = Settings.from_env(
        {"SAFECALL_APP_NAME": "Calculator", "SAFECALL_APP_ICON": "calculator"}
    )
    assets = Assets.build(WEB, extra=files(settings))
    found = json.loads(manifest(settings, assets))
    assert found["name"] == found["short_name"] == "Calculator"
    neutral = Assets.build(WEB, extra=files(Settings()))
    assert assets.url("icon-192.png") != neutral.url("icon-192.png")  # another picture
    title = assets.files["offline.html"].bodies["identity"].decode()
    assert "<title>Calculator</title>" in title


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("APP_NAME", "<script>"),
        ("APP_NAME", "x" * 31),
        ("APP_ICON", "police"),
        ("SMS_NUMBER", "call me"),
        ("SMS_NUMBER", "12"),
    ],
)
def test_bad_disguise_settings_stop_the_server(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"SAFECALL_{name}"):
        Settings.from_env({f"SAFECALL_{name}": value})


async def test_the_worker_keeps_versioned_static_files_and_the_offline_page_only(
    client: Any,
) -> None:
    response = await client.get("/sw.js")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["Cache-Control"] == "no-cache"
    source = await response.text()
    kept = json.loads(source.split("\n", 1)[0].removeprefix("const SHELL = ").rstrip(";"))
    assert kept[-1] == "/offline"
    assert not [url for url in kept if url.startswith("/api") or url in ("/", "/track")]
    page = await (await client.get("/")).text()
    for url in kept[:-1]:
        assert url.startswith("/static/") and "?v=" in url, url
        assert (await client.get(url)).status == 200, url
    for name in ("citizen.js", "citizen.css", "install.js", "offline.css", "icon-192.png"):
        assert any(url.startswith(f"/static/{name}?v=") for url in kept), name
    assert [url for url in kept if url.split("?")[0] in page]  # the page's own files
    assert "console" not in " ".join(kept)  # the officers' files are not the app's


async def test_the_offline_page_says_call_15_and_where_to_text(client: Any) -> None:
    response = await client.get("/offline")
    assert response.headers["Cache-Control"] == "no-cache"
    body = await response.text()
    assert 'href="tel:15"' in body
    assert 'data-testid="offline-sms"' not in body  # no number set, none shown
    texted = files(Settings.from_env({"SAFECALL_SMS_NUMBER": "8787"}))["offline.html"]
    assert b'href="sms:8787"' in texted
    assert shell(Assets.build(WEB, extra=files(Settings())))[-1] == "/offline"
