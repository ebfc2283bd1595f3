"""Headless Chromium for browser tests, which run in a loopback-only namespace.

``make test`` runs tests marked ``browser`` through ``scripts/in-netns.sh``;
the fixture refuses to start a browser anywhere else, so a browser test can
never reach beyond loopback.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


def only_loopback() -> bool:
    """True inside a network namespace whose only interface is lo."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not only_loopback():
        pytest.fail(
            "browser tests run only in a loopback-only namespace: "
            "scripts/in-netns.sh .venv/bin/pytest -m browser"
        )
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()
