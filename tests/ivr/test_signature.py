"""The webhook signature check: the URL as called first, then the library's full check.

Twilio may sign the URL with or without its default port ("Validating Requests are
coming from Twilio": the SDKs try both); ``signature_matches`` takes either, and a
signature for other parameters or a wrong token never.
"""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from ivr.signature import signature_matches
from safecall.settings import Settings

TOKEN = "auth-token-0123456789"
URL = "https://helpline.example.org/twilio/voice"
PARAMS = {"CallSid": "CA" + "1" * 32, "From": "+923001234567"}


def test_the_url_as_called_and_with_its_default_port_are_both_taken() -> None:
    settings = Settings(public_url="https://helpline.example.org", twilio_auth_token=TOKEN)
    validator = RequestValidator(TOKEN)
    for signed_url in (URL, "https://helpline.example.org:443/twilio/voice"):
        signature = validator.compute_signature(signed_url, PARAMS)
        assert signature_matches(settings, URL, PARAMS, signature)


def test_other_parameters_another_token_or_no_signature_are_refused() -> None:
    settings = Settings(public_url="https://helpline.example.org", twilio_auth_token=TOKEN)
    signature = RequestValidator(TOKEN).compute_signature(URL, PARAMS)
    assert not signature_matches(settings, URL, {**PARAMS, "Digits": "1"}, signature)
    assert not signature_matches(settings, URL, PARAMS, "")
    other = RequestValidator("another-token").compute_signature(URL, PARAMS)
    assert not signature_matches(settings, URL, PARAMS, other)
    unset = Settings(public_url="https://helpline.example.org")
    assert not signature_matches(unset, URL, PARAMS, signature)
