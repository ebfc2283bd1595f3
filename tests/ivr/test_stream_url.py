"""The Media Stream URL we give Twilio is the one whose signature we check on the upgrade.

Twilio streams only to ``wss://`` (Media Streams: "The url attribute ... must be a
wss URL"), so the URL is ``wss`` whatever scheme the public URL has: TLS may end
at a proxy in front of us while ``SAFECALL_PUBLIC_URL`` says plain http.
"""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from ivr.signature import stream_url
from ivr.twilio_api import bridge_url
from safecall.settings import Settings


@pytest.mark.parametrize(
    ("public", "expected"),
    [
        ("https://helpline.example.org", "wss://helpline.example.org/twilio/media"),
        ("https://helpline.example.org/", "wss://helpline.example.org/twilio/media"),
        ("http://127.0.0.1:8080", "wss://127.0.0.1:8080/twilio/media"),
        ("https://police.example.pk/safecall", "wss://police.example.pk/safecall/twilio/media"),
    ],
)
def test_the_stream_url_is_wss_under_the_public_url(public: str, expected: str) -> None:
    assert bridge_url(Settings(public_url=public)) == expected


@pytest.mark.parametrize("public", ["http://127.0.0.1:8080", "https://police.example.pk/safecall"])
def test_a_stream_signed_for_the_url_we_gave_is_checked_against_that_url(public: str) -> None:
    settings = Settings(public_url=public)
    validator = RequestValidator("token-0123")
    signed = validator.compute_signature(bridge_url(settings), {})
    assert validator.validate(stream_url(settings, "/twilio/media"), {}, signed)
