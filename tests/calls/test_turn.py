"""A browser call through a real coturn with relay-only ICE.

coturn runs inside the test's loopback-only namespace (``--allow-loopback-peers``,
tests only) with coturn's REST shared-secret scheme; the server hands the pages
time-limited credentials (``GET /api/ice-servers``), and the pages, opened with
``?ice=relay``, may use relay candidates only. ``getStats()`` on both sides says
the selected candidate pair is a relay pair.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from safecall.app import create_app
from safecall.settings import Settings
from tests.browser import browser
from tests.calls.media import media_flows, poll
from tests.calls.pages import answered_video_call, database_url, hang_up
from tests.calls.servers import free_port
from tests.support import FakeClock

pytestmark = pytest.mark.browser
__all__ = ["browser", "database_url"]
Db = async_sessionmaker[AsyncSession]
SECRET = "turn-secret-for-the-tests-only"

SELECTED = """async () => {
  const pc = window.safecallCall.pc;
  if (!pc || pc.connectionState !== "connected") return null;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) {
      pair = stats.get(s.selectedCandidatePairId);
    }
  });
  if (!pair) return null;
  return {local: stats.get(pair.localCandidateId).candidateType,
          remote: stats.get(pair.remoteCandidateId).candidateType,
          relayProtocol: stats.get(pair.localCandidateId).relayProtocol || null};
}"""


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[int]:
    """coturn on 127.0.0.1, REST credentials, loopback peers allowed; its port."""
    if shutil.which("turnserver") is None:
        pytest.fail("coturn (turnserver) is not installed")
    port = free_port()
    relay_base = free_port() // 2 * 2
    log = tmp_path / "turnserver.log"
    process = subprocess.Popen(
        [
            "turnserver",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            f"--listening-port={port}",
            f"--min-port={relay_base}",
            f"--max-port={relay_base + 200}",
            "--allow-loopback-peers",
            "--use-auth-secret",
            f"--static-auth-secret={SECRET}",
            "--realm=safecall.test",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--fingerprint",
            f"--log-file={log}",
            "--simple-log",
            "--no-stdout-log",
            f"--pidfile={tmp_path / 'turnserver.pid'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"turnserver exited:\n{log.read_text() if log.exists() else ''}")
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait()


@pytest.fixture
def app(settings: Settings, clock: FakeClock, coturn: int) -> web.Application:
    turned = dataclasses.replace(
        settings,
        turn_urls=(
            f"turn:127.0.0.1:{coturn}?transport=udp",
            f"turn:127.0.0.1:{coturn}?transport=tcp",
        ),
        turn_secret=SECRET,
    )
    return create_app(turned, clock=clock)


async def selected_pair(page: Any) -> dict[str, Any]:
    pair: dict[str, Any] = await poll(page, SELECTED, lambda found: True)
    return pair


async def test_a_relay_only_video_call_goes_through_coturn(
    client: Any, db: Db, browser: Any
) -> None:
    async with answered_video_call(
        browser,
        db,
        str(client.make_url("/?ice=relay")),
        str(client.make_url("/console?ice=relay")),
        "LHR-601",
    ) as call:
        await media_flows(call.console)
        await media_flows(call.citizen)
        for page in (call.citizen, call.console):
            pair = await selected_pair(page)
            assert pair["local"] == "relay" and pair["remote"] == "relay", pair
            policy = await page.evaluate("() => window.safecallCall.pc.getConfiguration()")
            assert policy["iceTransportPolicy"] == "relay"

        assert (await hang_up(call, db)).disposition == "answered"
        assert call.problems == []
