"""Helpers for referral tests: a case opened by a centre officer, accounts of places."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

Login = Callable[..., Awaitable[tuple[TestClient[Any, Any], Any]]]

GULBERG = "lahore-ps-gulberg"
MODEL_TOWN = "lahore-ps-model-town"
DPO = "lahore-dpo"
SHELTER = "lahore-shelter"
INSIDE_GULBERG = {"latitude": 31.515, "longitude": 74.35, "accuracy": 20}


async def open_case(officer: TestClient[Any, Any], **fields: Any) -> dict[str, Any]:
    body = {"service_line": "women", "district": "lahore", **fields}
    response = await officer.post("/api/cases", json=body)
    assert response.status == 201, await response.text()
    return dict(await response.json())


@pytest.fixture
async def centre(login_as: Login) -> tuple[TestClient[Any, Any], Any]:
    return await login_as("officer", lines=["women", "child"])


@pytest.fixture
async def gulberg(login_as: Login) -> tuple[TestClient[Any, Any], Any]:
    return await login_as("station", place=GULBERG, lines=[])
