"""Settings are read once, cast and checked; a bad value names the variable and what it expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.menu import MenuError
from queues import config as routing_config
from queues.config import load_default_text
from safecall.app import create_app
from safecall.cli import main
from safecall.settings import Settings, SettingsError


def test_defaults_are_the_embedded_ones() -> None:
    s = Settings.from_env({})
    assert (s.host, s.port) == ("127.0.0.1", 8080)
    assert s.database_url == "sqlite+aiosqlite:///var/safecall.db"
    assert s.redis_url is None
    assert s.data_key_file == Path("var/data.key")
    assert not s.secure_cookies


def test_values_are_cast() -> None:
    s = Settings.from_env(
        {
            "SAFECALL_PORT": "9090",
            "SAFECALL_PUBLIC_URL": "https://help.example.org/",
            "SAFECALL_DATABASE_URL": "postgresql+asyncpg://u:p@db/safecall",
            "SAFECALL_REDIS_URL": "redis://127.0.0.1:6379/0",
            "SAFECALL_TRUST_FORWARDED": "yes",
            "SAFECALL_EXTRA_CATEGORIES": "forced_marriage, honour_threat",
            "SAFECALL_VAR_DIR": "/srv/safecall",
        }
    )
    assert s.port == 9090
    assert s.public_url == "https://help.example.org"
    assert s.secure_cookies
    assert s.trust_forwarded
    assert s.extra_categories == ("forced_marriage", "honour_threat")
    assert s.data_key_file == Path("/srv/safecall/data.key")


def test_var_dir_moves_the_sqlite_file() -> None:
    s = Settings.from_env({"SAFECALL_VAR_DIR": "/tmp/x"})
    assert s.database_url == "sqlite+aiosqlite:////tmp/x/safecall.db"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PORT", "eighty", "a whole number from 1 to 65535"),
        ("PORT", "70000", "a whole number from 1 to 65535"),
        ("PORT", "8080²", "a whole number from 1 to 65535"),  # isdigit() alone says yes
        ("PORT", "۸۰۸۰", "a whole number from 1 to 65535"),
        ("PUBLIC_URL", "ftp://x", "an http:// or https:// base URL"),
        ("DATABASE_URL", "mysql://x", "a sqlite+aiosqlite:/// or postgresql+asyncpg:// URL"),
        ("REDIS_URL", "127.0.0.1:6379", "a redis:// URL"),
        ("TRUST_FORWARDED", "maybe", "true or false"),
        ("SESSION_HOURS", "0", "a number of hours above 0"),
        ("EXTRA_CATEGORIES", "Forced Marriage", "a comma-separated list of lower_case names"),
        ("LOG_LEVEL", "LOUD", "one of DEBUG, INFO, WARNING, ERROR"),
        ("HOST", "a b", "a host name or IP address"),
        ("TWILIO_API_BASE", "api.twilio.com", "an http:// or https:// base URL"),
        ("TWILIO_CALLER_ID", "0300 1234567", "a phone number in E.164 form"),
        ("TWILIO_CALLER_ID", "+۹۲۴۲۱۲۳۴۵۶۷۸", "a phone number in E.164 form"),
        ("MEDIA_ICE_HOSTS", "127.0.0.1, eth0", "a comma-separated list of IP addresses"),
        ("HEADER_TIMEOUT", "0", "a number of seconds above 0 and at most 3600"),
        ("BODY_TIMEOUT", "soon", "a number of seconds above 0 and at most 3600"),
        ("KEEPALIVE_TIMEOUT", "7200", "a number of seconds above 0 and at most 3600"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "-1", "a whole number from 0 to 1000000"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "²", "a whole number from 0 to 1000000"),
        ("MAP_TILES", "https://tiles.example/{z}/{x}.png", "an http(s) URL template"),
        ("MAP_TILES", "javascript:alert(1)/{z}/{x}/{y}", "an http(s) URL template"),
        ("MAP_TILES", "https://a.example;'x'/{z}/{x}/{y}.png", "an http(s) URL template"),
        ("MAP_ATTRIBUTION", "x" * 201, "one line of at most 200 characters"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({f"SAFECALL_{name}": value})
    message = str(info.value)
    assert message.startswith(f"SAFECALL_{name} must be {expected}")
    assert repr(value) in message
    assert message.endswith(".") and "\n" not in message


def test_the_command_stops_with_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAFECALL_PORT", "-1")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "safecall: SAFECALL_PORT must be a whole number from 1 to 65535, got '-1'."


SID = "AC" + "0123456789abcdef" * 2


def test_the_helpline_is_off_until_twilio_is_set() -> None:
    assert not Settings.from_env({}).ivr_enabled
    s = Settings.from_env(
        {
            "SAFECALL_TWILIO_ACCOUNT_SID": SID,
            "SAFECALL_TWILIO_AUTH_TOKEN": "x" * 32,
            "SAFECALL_TWILIO_CALLER_ID": "+924212345678",
            "SAFECALL_MEDIA_ICE_HOSTS": "127.0.0.1, ::1",
            "SAFECALL_VAR_DIR": "/srv/safecall",
        }
    )
    assert s.ivr_enabled
    assert s.twilio_api_base == "https://api.twilio.com"
    assert s.media_ice_hosts == ("127.0.0.1", "::1")
    assert s.recordings_key_file == Path("/srv/safecall/recordings.key")
    assert s.evidence_key_file == Path("/srv/safecall/evidence.key")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"SAFECALL_TWILIO_ACCOUNT_SID": SID},
            "SAFECALL_TWILIO_ACCOUNT_SID and SAFECALL_TWILIO_AUTH_TOKEN must be set together.",
        ),
        (
            {"SAFECALL_TWILIO_ACCOUNT_SID": SID, "SAFECALL_TWILIO_AUTH_TOKEN": "short-token"},
            "SAFECALL_TWILIO_AUTH_TOKEN must be at least 16 characters long.",
        ),
        (
            {"SAFECALL_TWILIO_ACCOUNT_SID": "AC123", "SAFECALL_TWILIO_AUTH_TOKEN": "x" * 32},
            "SAFECALL_TWILIO_ACCOUNT_SID must be a Twilio account SID: AC followed by 32 "
            "letters and digits, got 'AC123'.",
        ),
    ],
)
def test_twilio_settings_are_checked(env: dict[str, str], expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert str(info.value) == expected
    assert "short-token" not in str(info.value)


def test_connection_limits_and_the_cap_behind_a_proxy() -> None:
    s = Settings.from_env({})
    assert (s.header_timeout, s.body_timeout, s.keepalive_timeout) == (10.0, 60.0, 75.0)
    assert s.max_connections_per_address == 256
    # Behind a proxy every connection is the proxy's: the cap is off unless set.
    assert Settings.from_env({"SAFECALL_TRUST_FORWARDED": "true"}).max_connections_per_address == 0
    s = Settings.from_env(
        {"SAFECALL_TRUST_FORWARDED": "true", "SAFECALL_MAX_CONNECTIONS_PER_ADDRESS": "5000"}
    )
    assert s.max_connections_per_address == 5000


def test_the_metrics_token_is_a_secret_of_16_characters_or_more() -> None:
    assert Settings.from_env({}).metrics_token is None
    assert Settings.from_env({"SAFECALL_METRICS_TOKEN": "t" * 16}).metrics_token == "t" * 16
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"SAFECALL_METRICS_TOKEN": "short-token"})
    assert str(info.value) == "SAFECALL_METRICS_TOKEN must be at least 16 characters long."


def test_a_service_line_can_turn_recording_off() -> None:
    assert Settings.from_env({}).recording_off_lines == ()
    s = Settings.from_env({"SAFECALL_RECORDING_OFF_LINES": "child, women"})
    assert s.recording_off_lines == ("child", "women")
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"SAFECALL_RECORDING_OFF_LINES": "Child Line"})
    assert str(info.value).startswith("SAFECALL_RECORDING_OFF_LINES must be a comma-separated")


def test_a_prank_priority_not_below_the_emergency_priority_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The menu puts often-marked numbers in line with prank_priority (1); with a routing
    # file whose emergency priority is 1 the router would refuse those calls mid-menu.
    text = load_default_text()
    head, rest = text.split("[priorities]\n", 1)
    table, tail = rest.split("\n\n", 1)
    lowered = "\n".join(
        line.split("=")[0] + ("= 1" if line.startswith("emergency") else "= 0")
        if "=" in line
        else line
        for line in table.splitlines()
    )
    routing = tmp_path / "routing.toml"
    routing.write_text(f"{head}[priorities]\n{lowered}\n\n{tail}")
    assert routing_config.load(routing).emergency_priority == 1  # the file alone is fine
    monkeypatch.setenv("SAFECALL_ROUTING_FILE", str(routing))
    monkeypatch.setenv("SAFECALL_VAR_DIR", str(tmp_path))
    assert main(["keys"]) == 0
    with pytest.raises(
        MenuError, match=r"prank_priority must be below .* emergency priority \(1\)"
    ):
        create_app(Settings.from_env())
