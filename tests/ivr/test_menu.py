"""The menu file is checked at start; whatever she presses, the menu ends with her in line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ivr.menu import MENU_FILE, MenuError, load, parse
from ivr.models import PhoneCall
from ivr.progress import Progress, read
from tests.ivr.conftest import Phone

TEXT = MENU_FILE.read_text(encoding="utf-8")


def test_the_shipped_menu_loads() -> None:
    menu = load()
    assert set(menu.languages) == {"ur", "en", "pa"}
    assert menu.steps[menu.first_step].all_languages
    for name, texts in menu.texts().items():
        assert set(texts) == {"ur", "en", "pa"}, name


def test_every_prompt_is_recorded_and_small() -> None:
    directory = MENU_FILE.with_name("prompts")
    for name, texts in load().texts().items():
        for lang in texts:
            assert (directory / lang / f"{name}.wav").is_file(), f"{lang}/{name}.wav"
    total = sum(p.stat().st_size for p in directory.glob("*/*.wav"))
    assert total < 800 * 1024


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("retries = 3", "retries = 0"), "settings.retries"),
        (('silent_key = "0"', 'silent_key = "00"'), "settings.silent_key"),
        (('first_step = "language"', 'first_step = "nowhere"'), "settings.first_step"),
        (('next = "category"', 'next = "nowhere"'), "next"),
        (('value = "harassment"', 'value = "not_a_category"'), "value"),
        (('key = "9"', 'key = "0"'), "key"),
        (
            ('en = "Your case is closed."', 'xx = "Your case is closed."'),
            "messages.status_closed.en",
        ),
        (('en = "You are number {position} in line."', 'en = "You are in line."'), "{position}"),
        (("[languages.pa]", "[languages.fr]"), "languages.fr"),
        (("[settings]", "[settings\n"), "not valid TOML"),
    ],
)
def test_a_mistake_in_the_menu_names_what_is_wrong(change: tuple[str, str], named: str) -> None:
    old, new = change
    assert old in TEXT
    with pytest.raises(MenuError) as error:
        parse(TEXT.replace(old, new, 1), "menu.toml")
    assert named in str(error.value) and str(error.value).startswith("menu.toml: ")


def test_a_missing_menu_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MenuError, match="cannot read"):
        load(tmp_path / "menu.toml")


@hypothesis_settings(deadline=None)
@given(
    st.builds(
        Progress,
        language=st.sampled_from([None, "ur", "en", "pa"]),
        line=st.sampled_from([None, "women", "child"]),
        category=st.sampled_from([None, "harassment", "other"]),
        anonymous=st.sampled_from([None, "yes", "no"]),
        callback=st.sampled_from([None, "yes", "no"]),
        emergency=st.booleans(),
        tries=st.integers(0, 99),
        spoke=st.booleans(),
    )
)
def test_progress_survives_its_url(progress: Progress) -> None:
    from urllib.parse import parse_qsl

    assert read(dict(parse_qsl(progress.query())), load()) == progress


@hypothesis_settings(deadline=None)  # no timing in tests: the machine may be busy
@given(
    st.dictionaries(
        st.sampled_from(["lang", "line", "cat", "anon", "cb", "em", "n", "in"]),
        st.text(max_size=20),
    )
)
def test_a_made_up_query_reads_as_known_values_only(query: dict[str, str]) -> None:
    menu = load()
    progress = read(query, menu)
    assert progress.language in (None, *menu.languages)
    assert progress.line in (None, "women", "child")
    assert 0 <= progress.tries < 100
    intake = progress.intake(menu)
    assert intake.line in ("women", "child") and intake.language in menu.languages


ANSWERS = st.one_of(
    st.sampled_from(list("0123456789*#")).map(lambda key: ("key", key)),
    st.just(("silence", "")),
    st.sampled_from(["urdu", "help", "child", "skip", "yes", "no", "hmm", ""]).map(
        lambda words: ("words", words)
    ),
)


@hypothesis_settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(answers=st.lists(ANSWERS, min_size=40, max_size=40))
async def test_whatever_she_does_she_ends_in_line_never_hung_up(
    answers: list[tuple[str, str]], client: Any, settings: Any, db: Any
) -> None:
    phone = Phone(client, settings)
    reply = await phone.call()
    menu = load()
    limit = len(menu.steps) * menu.retries + 4  # every question tried in full, then tracking
    for turn, (kind, value) in enumerate(answers):
        assert reply.status == 200 and not reply.all("Hangup"), reply.text
        if any(t.endswith("/twilio/ivr/wait") for t in reply.texts("Redirect")):
            break
        assert turn < limit, "the menu kept her too long"
        if kind == "silence":
            reply = await phone.stay_silent(reply)
        elif kind == "key":
            reply = await phone.answer(reply, value)
        else:
            reply = await phone.answer(reply, speech=value)
    else:
        # Tracking and the line question can loop (she may track twice): only silence ends it.
        for _ in range(limit):
            if any(t.endswith("/twilio/ivr/wait") for t in reply.texts("Redirect")):
                break
            reply = await phone.stay_silent(reply)
    assert any(t.endswith("/twilio/ivr/wait") for t in reply.texts("Redirect")), reply.text
    async with db() as session:
        assert await session.get(PhoneCall, phone.call_sid) is not None
