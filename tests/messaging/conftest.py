"""Messaging tests: the app over https with the emulated Twilio and a clock the test moves."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from safecall.settings import Settings
from tests.support import FakeClock
from tests.twilio.cloud import TwilioCloud
from tests.twilio.fixtures import HttpsApp, serve_https
from tests.twilio.fixtures import twilio_cloud as twilio_cloud

WHATSAPP = "whatsapp:+14155238886"
TEMPLATE = "HX" + "a" * 32


@pytest.fixture
async def texting(
    settings: Settings,
    twilio_cloud: TwilioCloud,
    tmp_path: Path,
    clock: FakeClock,
) -> AsyncIterator[HttpsApp]:
    """The app on https with SMS and WhatsApp senders; its loop runs only when a test asks."""
    settings = dataclasses.replace(
        settings, twilio_whatsapp_from=WHATSAPP, twilio_whatsapp_template=TEMPLATE
    )
    twilio_cloud.messaging.whatsapp_senders.add(WHATSAPP)
    twilio_cloud.messaging.templates[TEMPLATE] = "Safecall: {{1}}"
    async with serve_https(settings, twilio_cloud, tmp_path, clock=clock, loop_every=3600) as app:
        yield app
