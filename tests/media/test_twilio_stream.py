"""Reading Media Streams messages: what the bridge cannot read is skipped, never a crash."""

from __future__ import annotations

from media.twilio_stream import read_event


def test_deeply_nested_json_is_skipped() -> None:
    """json.loads raises RecursionError (not ValueError) on it: it stopped the stream's reader."""
    assert read_event("[" * 50_000 + "]" * 50_000) is None
    assert read_event('{"event": ' * 5_000 + "1" + "}" * 5_000) is None


def test_text_that_is_not_json_is_skipped() -> None:
    assert read_event("not json") is None
    assert read_event("[1, 2]") is None
