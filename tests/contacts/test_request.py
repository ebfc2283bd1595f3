"""What arrives is checked once: the tracking code's one parser, her intake, the vocabulary.

Property-based (hypothesis): whatever a page, a keypad or an attacker sends,
checking it ends in a value or in a refusal with a stable code, never in
anything else (a 500).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from pydantic import ValidationError

from cases.tracking_code import TrackingCode, check_digit, display
from cases.vocabulary import load_districts
from contacts.request import contact_request
from contacts.vocabulary import Vocabulary, VocabularyError
from queues import config as routing_config
from safecall.app import create_app
from safecall.refusals import Invalid, Refusal
from safecall.settings import Settings
from signaling.intake import ContactIn

VOCABULARY = Vocabulary.build(
    routing_lines={"women": True, "child": False}, districts=load_districts()
)
URDU = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SEPARATORS = [" ", "-", "\u2013", "\u00a0", "\u200f", " - ", "", "\u2212"]


@st.composite
def codes(draw: st.DrawFn) -> str:
    body = draw(st.text("0123456789", min_size=11, max_size=11))
    return body + check_digit(body)


@given(code=codes(), data=st.data())
@examples(max_examples=200, deadline=None)
def test_a_code_is_read_however_it_is_typed(code: str, data: st.DataObject) -> None:
    digits = [data.draw(st.sampled_from([d, d.translate(URDU), d.translate(ARABIC)])) for d in code]
    typed = "".join(d + data.draw(st.sampled_from(SEPARATORS)) for d in digits)
    assert TrackingCode.parse(typed).digits == code
    assert TrackingCode.parse(display(code)) == TrackingCode(code)


@given(typed=st.text(max_size=80))
@examples(max_examples=300, deadline=None)
def test_any_text_is_a_code_or_a_stable_refusal(typed: str) -> None:
    try:
        code = TrackingCode.parse(typed)
    except Invalid as refused:
        assert refused.code == "invalid_tracking_code"
    else:
        assert code.digits.isascii() and len(code.digits) == 12


def test_one_wrong_digit_or_swap_is_never_a_code() -> None:
    code = "123456789018"
    assert TrackingCode.read(code) is not None
    for i in range(12):
        for d in "0123456789":
            if d != code[i]:
                assert TrackingCode.read(code[:i] + d + code[i + 1 :]) is None
    for i in range(11):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            assert TrackingCode.read(swapped) is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
FIELDS = {
    "service_line": st.sampled_from(["women", "child", "men", "", "WOMEN"]) | st.text(max_size=8),
    "channel": st.sampled_from(["video", "audio", "chat", "fax"]),
    "language": st.sampled_from(["ur", "en", "pa", "fr"]),
    "category": st.none() | st.sampled_from(["harassment", "missing_child", "x"]),
    "district": st.none() | st.sampled_from(["lahore", "Lahore", "لاہور", "Atlantis", " "]),
    "anonymous": st.booleans(),
    "name": st.none() | st.text(max_size=130),
    "phone": st.none() | st.sampled_from(["0300 1234567", "12", "+92 300 1234567", "abc"]),
    "callback_safe": st.booleans(),
    "callback_times": st.none() | st.text(max_size=130),
    "tracking_code": st.none() | codes() | st.text(max_size=20),
    "location": st.none()
    | st.fixed_dictionaries({"latitude": st.floats(-100, 100), "longitude": st.floats(-200, 200)}),
}


@given(body=st.fixed_dictionaries({}, optional=FIELDS) | st.dictionaries(st.text(), JSON))
@examples(max_examples=300, deadline=None)
def test_any_intake_is_a_request_or_a_stable_refusal(body: dict[str, Any]) -> None:
    try:
        parsed = ContactIn.model_validate(body)
    except ValidationError:
        return  # answered 400 invalid_body at the edge
    try:
        request = contact_request(
            VOCABULARY,
            line=parsed.service_line,
            channel={"video": "browser_video", "audio": "browser_audio"}.get(
                parsed.channel, parsed.channel
            ),
            language=parsed.language,
            category=parsed.category,
            district=parsed.district,
            anonymous=parsed.anonymous,
            tracking_code=parsed.tracking_code,
        )
    except Refusal as refused:
        assert refused.code and refused.message.endswith(".")
    else:
        assert request.line in VOCABULARY.lines
        assert request.district is None or request.district in VOCABULARY.districts


def test_the_server_refuses_to_start_when_the_routing_file_lacks_a_line(
    settings: Settings, tmp_path: Path
) -> None:
    text = routing_config.load_default_text().replace("[lines.child]\nfemale_only = false\n", "")
    assert "lines.child" not in text
    routing = tmp_path / "routing.toml"
    routing.write_text(text)
    with pytest.raises(VocabularyError, match="lacks the service line"):
        create_app(dataclasses.replace(settings, routing_file=routing))


def test_the_server_refuses_to_start_on_a_line_the_code_does_not_know(
    settings: Settings, tmp_path: Path
) -> None:
    text = routing_config.load_default_text() + "\n[lines.elders]\nfemale_only = false\n"
    routing = tmp_path / "routing.toml"
    routing.write_text(text)
    with pytest.raises(VocabularyError, match="elders"):
        create_app(dataclasses.replace(settings, routing_file=routing))
