"""Fixtures: the emulated Twilio, and a safecall app served over https for it to call.

Import them into a test package's conftest.py::

    from tests.twilio.fixtures import https_app, twilio_cloud  # noqa: F401

``https_app`` builds on tests/conftest.py's ``settings`` (so it runs on SQLite
and PostgreSQL, like every database test) and serves ``create_app`` with the
real clock on https://127.0.0.1:<free port> with a self-signed certificate that
only the emulator trusts (Twilio calls only https and wss:
https://www.twilio.com/docs/usage/webhooks/webhooks-security).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web

from safecall.app import create_app
from safecall.settings import Settings
from tests.twilio.cloud import TWILIO_TEST_CALLER_ID, TwilioCloud, _free_socket
from tests.twilio.tls import client_context, self_signed


@dataclass
class HttpsApp:
    """A running app the emulator can call."""

    url: str
    """``https://127.0.0.1:<port>`` (also ``settings.public_url``)."""
    settings: Settings
    app: web.Application
    cloud: TwilioCloud
    cert_path: Path
    client_ssl: ssl.SSLContext
    """Trusts the app's certificate: pass as ``ssl=`` to an aiohttp client of your own."""


@contextlib.asynccontextmanager
async def serve_https(
    settings: Settings,
    cloud: TwilioCloud,
    tmp_path: Path,
    *,
    clock: Callable[[], datetime] | None = None,
    caller_id: str = TWILIO_TEST_CALLER_ID,
    loop_every: float | None = None,
) -> AsyncIterator[HttpsApp]:
    """Serve ``create_app`` over https for ``cloud``; the settings get the Twilio account,
    ``public_url``, ``twilio_api_base`` (the cloud's REST base), ``twilio_caller_id`` and
    ``media_ice_hosts=("127.0.0.1",)``; ``loop_every`` slows the messaging loop (tests that
    drive it by hand). The cloud gets the number's voice and status URLs
    (``/twilio/voice``, ``/twilio/status``) and trusts the certificate. On exit every live
    call is hung up first, then the app stops."""
    server_ssl, cert_path = self_signed(tmp_path)
    sock = _free_socket()
    url = f"https://127.0.0.1:{sock.getsockname()[1]}"
    settings = dataclasses.replace(
        settings,
        public_url=url,
        twilio_account_sid=cloud.account_sid,
        twilio_auth_token=cloud.auth_token,
        twilio_api_base=cloud.rest_base,
        twilio_caller_id=caller_id,
        media_ice_hosts=("127.0.0.1",),
    )
    app = create_app(settings) if clock is None else create_app(settings, clock=clock)
    if loop_every is not None:  # the messaging loop: a test drives it by hand instead
        from messaging.routes import LOOP, LoopConfig

        app[LOOP] = LoopConfig(every=loop_every)
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.SockSite(runner, sock, ssl_context=server_ssl).start()
        client_ssl = client_context(cert_path)
        cloud.ssl_context = client_ssl
        cloud.voice_url = url + "/twilio/voice"
        cloud.status_callback = url + "/twilio/status"
        cloud.messaging.url = url + "/twilio/messaging"
        cloud.owned_numbers.add(caller_id)
        yield HttpsApp(url, settings, app, cloud, cert_path, client_ssl)
        await cloud.hang_up_all()
    finally:
        await runner.cleanup()


@pytest.fixture
async def twilio_cloud() -> AsyncIterator[TwilioCloud]:
    """A started TwilioCloud; fails the test at teardown on Twilio errors it never saw."""
    cloud = TwilioCloud()
    await cloud.start()
    yield cloud
    await cloud.close()
    unseen = cloud.unseen_errors()
    if unseen:
        pytest.fail(
            "Twilio reported errors the test did not expect (use take_errors() when expected):\n  "
            + "\n  ".join(str(e) for e in unseen)
        )


@pytest.fixture
async def https_app(
    settings: Settings, twilio_cloud: TwilioCloud, tmp_path: Path
) -> AsyncIterator[HttpsApp]:
    """The safecall app on https://127.0.0.1:<port>, wired to ``twilio_cloud``."""
    async with serve_https(settings, twilio_cloud, tmp_path) as served:
        yield served
