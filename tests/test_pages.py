"""The pages are served with headers that leave nothing behind and allow no framing."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("path", ["/", "/console", "/track", "/console/reports"])
async def test_pages_are_not_cached_and_not_framed(client, path: str) -> None:
    r = await client.get(path)
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["Referrer-Policy"] == "no-referrer"


async def test_citizen_page_has_quick_exit_and_service_choice(client) -> None:
    body = await (await client.get("/")).text()
    for hook in ("quick-exit", "service-women", "service-child"):
        assert f'data-testid="{hook}"' in body
    assert "<script>" not in body  # no inline script: the CSP forbids it


@pytest.mark.parametrize(
    ("path", "script"),
    [
        ("/", '<script src="/static/citizen.js" defer></script>'),
        # A module runs after the deferred scripts before it, in order.
        ("/console", '<script type="module" src="/static/console.js"></script>'),
    ],
)
async def test_pages_load_the_shared_signaling_client_first(client, path: str, script: str) -> None:
    body = re.sub(r"\?v=[0-9a-f]{16}", "", await (await client.get(path)).text())
    shared = body.index('<script src="/static/signal.js" defer></script>')
    assert shared < body.index(script)
    served = await client.get("/static/signal.js")
    assert served.status == 200
    assert served.headers["Content-Type"].startswith("text/javascript")
    assert "window.SafecallSignal" in await served.text()


async def test_static_files_cannot_escape_the_web_folder(client) -> None:
    assert (await client.get("/static/citizen.js")).status == 200
    for name in ("..%2Fpages.py", "%2E%2E%2Fsettings.py", "nothing.js", "citizen.py"):
        r = await client.get(f"/static/{name}")
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "not_found"


async def test_unknown_api_path_gets_a_json_error(client) -> None:
    r = await client.get("/api/no-such-thing")
    assert r.status == 404
    assert await r.json() == {
        "error": {"code": "not_found", "message": "There is nothing at this address."}
    }


async def test_wrong_method_gets_a_json_error(client) -> None:
    r = await client.delete("/healthz")
    assert r.status == 405
    assert (await r.json())["error"]["code"] == "method_not_allowed"


async def test_readyz_reports_the_database(client) -> None:
    r = await client.get("/readyz")
    assert r.status == 200
    assert await r.json() == {"status": "ok", "database": "ok", "redis": "not_configured"}


async def test_metrics_are_prometheus_text(client) -> None:
    r = await client.get("/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE" in await r.text()


async def test_readyz_fails_when_redis_goes_away(aiohttp_client, settings, clock, tmp_path) -> None:
    """A real Redis of the test's own, stopped while the server runs."""
    import asyncio
    import dataclasses
    import socket
    import subprocess

    from safecall.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    redis = subprocess.Popen(  # noqa: ASYNC220 (starting it does not block; it runs beside the test)
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        configured = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{port}/0")
        client = await aiohttp_client(create_app(configured, clock=clock))
        r = await client.get("/readyz")
        assert r.status == 200
        assert (await r.json())["redis"] == "ok"
    finally:
        redis.terminate()
        redis.wait()
    for _ in range(100):  # the checks are cached for a second (a load balancer asks often)
        r = await client.get("/readyz")
        if r.status == 503:
            break
        await asyncio.sleep(0.05)
    assert r.status == 503 and r.headers["Retry-After"] == "1"
    assert await r.json() == {"error": {"code": "not_ready", "message": "Redis is not reachable."}}


async def test_only_the_console_takes_images_from_the_map_tile_server(client) -> None:
    """The console's map draws tiles from SAFECALL_MAP_TILES' origin; no other page may."""
    console = (await client.get("/console")).headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://tile.openstreetmap.org;" in console
    for path in ("/", "/track", "/console/reports"):
        policy = (await client.get(path)).headers["Content-Security-Policy"]
        assert "img-src 'self' data: blob:;" in policy
