"""The deployment, whole: images built from Debian's packages, the compose stack started
with podman, a browser call through the TLS proxy, one node crashed mid-call.

Heavy (minutes): marked ``deploy``, run by ``make deploy-check`` in a loopback-only
network namespace after ``scripts/build-images.sh``. The stack is the one
deploy/compose.yaml declares, started as plain podman commands derived from it
(tests/deploy/stack.py says why), with the settings of a test site: Caddy's own CA,
ports that do not meet the namespace's other services, and the proxy sending
every request to the first healthy node, so that the call is on the node that
is then crashed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page

from cases.models import ContactSession
from safecall.db import create_engine, session_factory
from tests.browser import ARTIFACTS, browser, only_loopback
from tests.calls.media import media_flows
from tests.calls.test_call import DESKTOP, PASSWORD, PHONE
from tests.deploy.stack import PODMAN, ROOT, Stack, podman, start_order

__all__ = ["browser"]
pytestmark = pytest.mark.deploy

SITE = "https://127.0.0.1:8443"
DB_PASSWORD = "stack-test-password"
ENV = {
    "SAFECALL_SITE": SITE,
    "SAFECALL_PUBLIC_URL": SITE,
    "SAFECALL_TLS": "internal",
    "SAFECALL_LB_POLICY": "first",
    "POSTGRES_PASSWORD": DB_PASSWORD,
    "REDIS_PORT": "6390",  # 6379 is the namespace's own Redis (scripts/in-netns.sh)
    "SAFECALL_REDIS_URL": "redis://127.0.0.1:6390/0",
    "TURN_SECRET": "stack-test-turn-secret",
    "TURN_LISTENING_IP": "127.0.0.1",
    "TURN_EXTRA": "--allow-loopback-peers",  # tests only: every peer here is loopback
}
IMAGES = ("localhost/safecall:latest", "localhost/safecall-services:latest")


def _ready(url: str) -> int:
    """The status of GET url (TLS not verified: Caddy's own CA), or 0 if nothing answers."""
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _stun_binding(host: str, port: int) -> bool:
    """coturn answers a STUN Binding request (RFC 5389) with a success response."""
    import secrets
    import socket

    transaction = secrets.token_bytes(12)
    request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(1)
        for _ in range(20):  # it may still be starting
            probe.sendto(request, (host, port))
            try:
                answer = probe.recv(2048)
            except TimeoutError:
                continue
            return answer[:2] == b"\x01\x01" and answer[8:20] == transaction
    return False


def _wait_ready(url: str, stack: Stack, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _ready(url) == 200:
            return
        time.sleep(0.5)
    logs = "\n".join(f"--- {s}\n{stack.logs(s)[-1500:]}" for s in stack.services)
    raise AssertionError(f"{url} never became ready\n{logs}")


@pytest.fixture
def stack() -> Iterator[Stack]:
    yield from _up([ROOT / "deploy" / "compose.yaml"])


@pytest.fixture
def ha_stack() -> Iterator[Stack]:
    yield from _up([ROOT / "deploy" / "compose.yaml", ROOT / "deploy" / "compose.sentinel.yaml"])


def _up(files: list[Path]) -> Iterator[Stack]:
    if not only_loopback():
        pytest.fail(
            "the stack test runs only in a loopback-only namespace: make deploy-check "
            "(scripts/in-netns.sh .venv/bin/pytest -m deploy tests/deploy)"
        )
    for image in IMAGES:
        if subprocess.run([*PODMAN, "image", "exists", image], check=False).returncode:
            pytest.fail(f"{image} is missing: scripts/build-images.sh builds it")
    deployed = Stack(f"sct{os.getpid()}", files, ENV)
    started = time.monotonic()
    try:
        for service in start_order(deployed.services):
            deployed.start(service)
            if service == "init":  # keys, then the schema, before any node
                deployed.wait_done("init")
        _wait_ready(f"{SITE}/readyz", deployed)
        print(f"stack up in {time.monotonic() - started:.1f} s")
        yield deployed
    finally:
        deployed.down()


async def _page(
    browser: Browser, path: str, viewport: dict[str, int]
) -> tuple[BrowserContext, Page]:
    # Caddy's own CA is not one the browser knows; the connection is still TLS.
    context = await browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        locale="en-GB",
        ignore_https_errors=True,
    )
    page = await context.new_page()
    await page.goto(SITE + path)
    return context, page


async def _ended(session_id: str) -> ContactSession:
    engine = create_engine(f"postgresql+asyncpg://safecall:{DB_PASSWORD}@127.0.0.1:5432/safecall")
    db = session_factory(engine)
    try:
        for _ in range(300):
            async with db() as session:
                contact = await session.get(ContactSession, session_id)
                if contact is not None and contact.ended_at is not None:
                    return contact
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
    raise AssertionError("the contact never ended in the database")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as session:
        yield session


async def test_a_call_through_the_proxy_goes_on_when_its_node_crashes(
    stack: Stack, browser: Browser, http: aiohttp.ClientSession
) -> None:
    # Through the proxy, over TLS, the stack says it can route.
    async with http.get(f"{SITE}/readyz") as ready:
        assert ready.status == 200
        assert await ready.json() == {"status": "ok", "database": "ok", "redis": "ok"}
        assert ready.headers["Strict-Transport-Security"].startswith("max-age=")
    assert stack.state("postgres")[0] == "running"
    assert _stun_binding("127.0.0.1", 3478), (
        f"coturn does not answer: {stack.logs('coturn')[-1500:]}"
    )
    assert stack.exec("node1", "sh", "-c", "id -un").strip() == "safecall"  # not root

    stack.exec(
        "node1", "safecall", "officer", "add", "--badge", "DPL-101", "--name", "Deploy Officer",
        "--role", "officer", "--gender", "female", "--languages", "ur,en",
        "--lines", "women,child", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    citizen_ctx, citizen = await _page(browser, "/", PHONE)
    console_ctx, console = await _page(browser, "/console", DESKTOP)
    await console.get_by_test_id("login-badge").fill("DPL-101")
    await console.get_by_test_id("login-password").fill(PASSWORD)
    await console.get_by_test_id("login-submit").click()
    await console.get_by_test_id("app-view").wait_for(state="visible")
    await console.get_by_test_id("status-available").click()
    await citizen.get_by_test_id("start-video").click()
    await console.get_by_test_id("offer").wait_for(state="visible")
    await console.get_by_test_id("accept").click()
    await media_flows(console)
    await media_flows(citizen)
    session_id = await citizen.evaluate("() => window.safecallCall.id")

    # The node both pages are on dies (SIGKILL to its container's processes).
    killed = stack.crash("node1")
    await citizen.wait_for_function("() => window.safecallCall.resumes >= 1", timeout=30_000)
    await console.wait_for_function("() => window.safecallCall.resumes >= 1", timeout=30_000)
    # The crashed node is not back yet (its supervisor restarts it, which takes longer):
    # both pages resumed on the other node.
    assert _ready("http://127.0.0.1:8081/readyz") != 200
    assert await citizen.evaluate("() => window.safecallCall.id") == session_id
    await citizen.get_by_test_id("chat-input").fill("still here after the crash")
    await citizen.get_by_test_id("chat-send").click()
    await console.get_by_text("still here after the crash").wait_for(timeout=20_000)
    await media_flows(citizen)
    await media_flows(console)
    ARTIFACTS.mkdir(exist_ok=True)
    await citizen.screenshot(path=str(ARTIFACTS / "deploy-citizen-after-node-crash.png"))

    await console.get_by_test_id("hangup").click()
    await citizen.locator("#ended").wait_for(state="visible", timeout=20_000)
    contact = await _ended(session_id)
    assert contact.disposition == "answered"  # the crash did not cut the call short
    await citizen_ctx.close()
    await console_ctx.close()

    # Supervision: `restart: always` brought the crashed node back, and it serves again.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if stack.state("node1")[0] == "running" and stack.pid("node1") != killed:
            if _ready("http://127.0.0.1:8081/readyz") == 200:
                break
        await asyncio.sleep(0.5)
    else:
        raise AssertionError(f"node1 was not restarted: {stack.logs('node1')[-2000:]}")
    assert podman("inspect", "--format", "{{.RestartCount}}", stack.name("node1")).strip() != "0"


async def test_with_sentinels_the_nodes_follow_a_redis_failover(
    ha_stack: Stack, http: aiohttp.ClientSession
) -> None:
    """deploy/compose.sentinel.yaml: the Redis master's container dies; the sentinels
    promote the replica; the nodes, through the proxy, are ready again on it."""
    for service in ("redis-replica", "sentinel1", "sentinel2", "sentinel3"):
        assert ha_stack.state(service)[0] == "running"
    env = ha_stack.services["node1"]["environment"]
    assert env["SAFECALL_REDIS_URL"].startswith("redis+sentinel://")
    sentinel = ["redis-cli", "-p", "26379"]
    assert ha_stack.exec("sentinel1", *sentinel, "SENTINEL", "get-master-addr-by-name",
                         "safecall").split() == ["127.0.0.1", "6390"]  # fmt: skip
    # Each sentinel must know the others (hello messages) before a failover can be agreed.
    deadline = time.monotonic() + 60
    while "num-other-sentinels\n2" not in ha_stack.exec(
        "sentinel1", *sentinel, "SENTINEL", "master", "safecall"
    ):
        assert time.monotonic() < deadline, "the sentinels never saw each other"
        await asyncio.sleep(0.5)

    # Killed for good (a crash would be restarted by its supervisor, too fast for the
    # sentinels to call it down): its host is gone.
    podman("kill", ha_stack.name("redis"))
    deadline = time.monotonic() + 120
    while ha_stack.exec(
        "sentinel1", *sentinel, "SENTINEL", "get-master-addr-by-name", "safecall"
    ).split() != ["127.0.0.1", "6380"]:
        assert time.monotonic() < deadline, ha_stack.logs("sentinel1")[-2000:]
        await asyncio.sleep(0.5)
    for node in (8081, 8082):
        _wait_ready(f"http://127.0.0.1:{node}/readyz", ha_stack, timeout=60)
    async with http.get(f"{SITE}/readyz") as ready:
        assert ready.status == 200 and (await ready.json())["redis"] == "ok"
    # And work that needs Redis goes through: a contact is taken and queued.
    async with http.post(
        f"{SITE}/api/contacts", json={"service_line": "women", "channel": "video"}
    ) as taken:
        assert taken.status == 201, await taken.text()
