"""The routing file: defaults load, mistakes stop the server with a clear sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from queues import config as routing_config
from queues.config import ConfigError
from tests.queues.helpers import config_with


def test_defaults_load() -> None:
    config = routing_config.load()
    assert config.lines == {"women": True, "child": False}
    assert config.offer_timeout == 20
    assert config.priority_of("sexual_violence") > config.priority_of("harassment")
    assert config.priority_of(None, emergency=True) == config.emergency_priority
    assert config.cost("voice") == config.capacity_units == 3 * config.cost("chat")
    assert config.steps[-1].relaxes_everything
    assert 0 < config.grace <= 10


def test_a_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text(routing_config.load_default_text().replace("timeout = 20", "timeout = 15"))
    assert routing_config.load(path).offer_timeout == 15
    with pytest.raises(ConfigError, match="cannot read"):
        routing_config.load(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"lines": "[lines.women]\nfemale_only = false"}, "women's line"),
        ({"lines": "[lines.women]\nfemale_only = 'yes'"}, "true or false"),
        ({"lines": "[lines.women]\nfemale_only = true\nopen = 1"}, "exactly female_only"),
        ({"offers": "[offers]\ntimeout = 0\nno_answer_limit = 3\nreoffer_after = 30"}, "timeout"),
        (
            {"offers": "[offers]\ntimeout = 20\nno_answer_limit = 3\nreofer_after = 30"},
            "unknown key",
        ),
        ({"offers": "[offers]\ntimeout = 2000\nno_answer_limit = 3\nreoffer_after = 3"}, "shorter"),
        ({"capacity": "[capacity]\nvoice = 1\nchat = 0"}, "capacity.chat"),
        ({"priorities": "[priorities]\nemergency = 5\ndefault = 10\ncallback = 1"}, "emergency"),
        ({"priorities": "[priorities]\nemergency = 100\ndefault = 10"}, "callback"),
        (
            {
                "relaxation": "[relaxation]\nknown_officer = 30\nreturning = 60\n"
                "[[relaxation.steps]]\nafter = 0\nlanguage = true\nmin_proficiency = 0\n"
                "district = false"
            },
            "drop every preference",
        ),
        (
            {
                "relaxation": "[relaxation]\nknown_officer = 30\nreturning = 60\n"
                "[[relaxation.steps]]\nafter = 0\nlanguage = true\nmin_proficiency = 0\n"
                "district = false\n[[relaxation.steps]]\nafter = 0\nlanguage = false\n"
                "min_proficiency = 0\ndistrict = false"
            },
            "later than",
        ),
        (
            {
                "relaxation": "[relaxation]\nknown_officer = 30\nreturning = 60\n"
                "[[relaxation.steps]]\nafter = 0\nlanguage = false\nmin_proficiency = 7\n"
                "district = false"
            },
            "from 0 to 5",
        ),
    ],
)
def test_mistakes_are_named(sections: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        config_with(**sections)
    assert str(error.value).startswith("test.toml: ")


def test_unknown_section_and_bad_toml() -> None:
    with pytest.raises(ConfigError, match="unknown section"):
        routing_config.parse(routing_config.load_default_text() + "\n[surprise]\nx = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        routing_config.parse("lines = [", "broken.toml")


_STEP = "[[relaxation.steps]]\nafter = 0\nlanguage = false\nmin_proficiency = 0\ndistrict = false"


@pytest.mark.parametrize(("grace", "message"), [("-1", "at least 0"), ("31", "at most 30")])
def test_the_grace_is_short(grace: str, message: str) -> None:
    relaxation = f"[relaxation]\nknown_officer = 30\nreturning = 60\ngrace = {grace}\n{_STEP}"
    with pytest.raises(ConfigError, match=f"relaxation.grace must be .*{message}"):
        config_with(relaxation=relaxation)


def test_the_grace_may_be_left_out() -> None:
    relaxation = f"[relaxation]\nknown_officer = 30\nreturning = 60\n{_STEP}"
    assert config_with(relaxation=relaxation).grace == routing_config.DEFAULT_GRACE
    relaxation = f"[relaxation]\nknown_officer = 30\nreturning = 60\ngrace = 0\n{_STEP}"
    assert config_with(relaxation=relaxation).grace == 0


def test_aging_stays_below_an_emergency() -> None:
    config = routing_config.load()
    assert config.aging_every > 0 and config.aging_ceiling < config.emergency_priority
    with pytest.raises(ConfigError, match=r"aging\.up_to must be a whole number from 0 to 99"):
        config_with(aging="[aging]\nevery = 20\nup_to = 100")
    with pytest.raises(ConfigError, match=r"aging\.every must be a number of seconds"):
        config_with(aging="[aging]\nevery = 0\nup_to = 50")
    with pytest.raises(ConfigError, match="unknown key"):
        config_with(aging="[aging]\nevery = 20\nceiling = 50")
    assert config_with(aging="[aging]\nevery = 30").aging_ceiling == config.emergency_priority - 1
    assert config_with(aging="").aging_every == routing_config.DEFAULT_AGING_EVERY
