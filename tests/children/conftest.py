"""Helpers for the children's tests: a child-line chat in hand, places' accounts, reports."""

from __future__ import annotations

import io
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from PIL import Image, ImageDraw
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import ContactSession

Login = Callable[..., Awaitable[tuple[TestClient[Any, Any], Any]]]
Db = async_sessionmaker[AsyncSession]

GULBERG = "lahore-ps-gulberg"
MODEL_TOWN = "lahore-ps-model-town"
BUREAU = "lahore-cpwb"
INSIDE_GULBERG = {"latitude": 31.515, "longitude": 74.35}
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def picture(shade: int) -> bytes:
    image = Image.new("RGB", (64, 64), (shade, 120, 200))
    draw = ImageDraw.Draw(image)
    draw.ellipse((12, 8, 52, 56), fill=(230, 190, 160))
    draw.rectangle((0, 40, 30, 64), fill=(20, 20, 20))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def open_case(officer: TestClient[Any, Any], **fields: Any) -> dict[str, Any]:
    body = {"service_line": "child", "district": "lahore", **fields}
    response = await officer.post("/api/cases", json=body)
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def chat_on(db: Db, case_id: int, officer_id: int, at: datetime) -> str:
    """A chat in hand on the case: the contact an officer files a report during."""
    async with db() as session:
        contact = ContactSession(
            id=secrets.token_hex(16),
            case_id=case_id,
            service_line="child",
            channel="chat",
            officer_id=officer_id,
            arrived_at=at,
            answered_at=at,
        )
        session.add(contact)
        await session.commit()
        return contact.id


def missing_body(at: datetime, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "child": {
            "names": ["محمد علی", "Muhammad Ali"],
            "parent_names": ["Aslam"],
            "age": 7,
            "gender": "boy",
            "height_cm": 120,
            "build": "thin",
            "complexion": "wheatish",
            "hair": "short black",
            "clothing": "blue shalwar kameez, white sandals",
            "languages": ["Urdu", "Punjabi"],
            "marks": "scar above left eyebrow",
            "medical_needs": "asthma inhaler",
        },
        "last_seen": {
            "at": at.isoformat(),
            "district": "lahore",
            "area": "Liberty market",
            **INSIDE_GULBERG,
            "with_whom": "alone",
        },
        "guardian": {
            "name": "Nasreen Bibi",
            "relation": "mother",
            "phone": "+923001234567",
            "id_number": "35202-1234567-1",
        },
        "child_phone": None,
    }
    body.update(fields)
    return body


def found_body(at: datetime, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "child": {
            "names": ["Mohammad Ali"],
            "parent_names": ["Muhammad Aslam"],
            "age_min": 6,
            "age_max": 8,
            "gender": "boy",
            "height_min_cm": 115,
            "height_max_cm": 125,
            "clothing": "blue kameez",
            "languages": ["Urdu"],
            "marks": "scar on left eyebrow",
        },
        "found": {"at": at.isoformat(), "area": "Gulberg main boulevard", **INSIDE_GULBERG},
        "child_says": "My name is Ali, my father is Aslam, we live near Liberty.",
        "custody": {"place": GULBERG, "contact": "Duty officer, +924299990101"},
    }
    body.update(fields)
    return body


@pytest.fixture
async def centre(login_as: Login) -> tuple[TestClient[Any, Any], Any]:
    return await login_as("officer", lines=["child"])


@pytest.fixture
async def gulberg(login_as: Login) -> tuple[TestClient[Any, Any], Any]:
    return await login_as("station", place=GULBERG, lines=[])
