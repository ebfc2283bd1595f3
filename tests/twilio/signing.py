"""Twilio's request signature, written from its documentation (not from the library).

https://www.twilio.com/docs/usage/webhooks/webhooks-security: the signature is
HMAC-SHA1, keyed with the account's auth token, over the full URL Twilio
requested (query string included) followed by every POST parameter name and
value, sorted by name; base64 encoded, sent as ``X-Twilio-Signature``. GET
requests and the Media Streams WebSocket upgrade sign the URL alone.

tests/twilio/test_emulator.py proves this equals
``twilio.request_validator.RequestValidator.compute_signature`` and that
``RequestValidator.validate`` accepts it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

SIGNATURE_HEADER = "X-Twilio-Signature"


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """The ``X-Twilio-Signature`` value for a request to ``url`` with form ``params``."""
    data = url + "".join(name + value for name, value in sorted(set(params)))
    mac = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()
