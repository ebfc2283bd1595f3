"""The emulator's own fixtures, for tests in this folder."""

from tests.twilio.fixtures import https_app, twilio_cloud

__all__ = ["https_app", "twilio_cloud"]
