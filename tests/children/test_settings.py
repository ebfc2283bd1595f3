"""The children's settings: read from the environment, refused with the variable named."""

from __future__ import annotations

import pytest

from safecall.settings import Settings, SettingsError


def test_the_children_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            "SAFECALL_CHILD_ALERT_AGE": "10",
            "SAFECALL_CHILD_ALERT_RADIUS_KM": "25.5",
            "SAFECALL_CHILD_SEARCH_DAYS": "30",
        }
    )
    assert (settings.child_alert_age, settings.child_alert_radius_km) == (10, 25.5)
    assert settings.child_search_days == 30
    defaults = Settings.from_env({})
    assert (defaults.child_alert_age, defaults.child_alert_radius_km) == (12, 0.0)
    assert defaults.child_search_days == 90


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("CHILD_ALERT_AGE", "18", "an age in years from 0 to 17"),
        ("CHILD_ALERT_AGE", "١٢", "an age in years from 0 to 17"),
        ("CHILD_ALERT_RADIUS_KM", "-1", "kilometres from 0"),
        ("CHILD_ALERT_RADIUS_KM", "nan", "kilometres from 0"),
        ("CHILD_SEARCH_DAYS", "0", "a number of days from 1 to 3650"),
    ],
)
def test_bad_children_settings_name_the_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({f"SAFECALL_{name}": value})
    assert str(info.value).startswith(f"SAFECALL_{name} must be {expected}")
