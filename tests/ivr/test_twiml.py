"""Rendered TwiML: built once per what decides it, the least recently used forgotten."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr.twiml import Rendered


def test_the_same_key_is_built_once_and_the_oldest_is_forgotten() -> None:
    built: list[str] = []

    def build(word: str) -> VoiceResponse:
        built.append(word)
        response = VoiceResponse()
        response.say(word)
        return response

    rendered = Rendered(size=2)
    first = rendered.get("a", lambda: build("a"))
    assert rendered.get("a", lambda: build("a")) == first
    assert "<Say>a</Say>" in first
    rendered.get("b", lambda: build("b"))
    rendered.get("a", lambda: build("a"))  # "a" used last: "b" is now the oldest
    rendered.get("c", lambda: build("c"))
    rendered.get("a", lambda: build("a"))
    rendered.get("b", lambda: build("b"))
    assert built == ["a", "b", "c", "b"]
