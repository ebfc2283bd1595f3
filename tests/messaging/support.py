"""A centre officer's browser on the https app: her cookie, her requests, her console's socket."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from officers.auth import COOKIE, start_login
from officers.models import Officer
from tests.signaling.conftest import Page
from tests.twilio.fixtures import HttpsApp


class Browser:
    def __init__(self, served: HttpsApp, token: str, officer_id: int) -> None:
        self.served = served
        self.officer_id = officer_id
        self.headers = {"Cookie": f"{COOKIE}={token}", "Origin": served.url}
        self.session = aiohttp.ClientSession()

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.session.request(
            method,
            self.served.url + path,
            headers=self.headers,
            ssl=self.served.client_ssl,
            **kwargs,
        ) as response:
            return response.status, await response.json()

    async def console_socket(self) -> Page:
        ws = await self.session.ws_connect(
            self.served.url.replace("https", "wss") + "/ws",
            headers=self.headers,
            ssl=self.served.client_ssl,
        )
        return Page(ws)

    async def close(self) -> None:
        await self.session.close()


async def officer(
    served: HttpsApp,
    db: async_sessionmaker[AsyncSession],
    clock: Callable[[], Any],
    badge: str = "C-1",
    **fields: Any,
) -> Browser:
    values: dict[str, Any] = {
        "badge": badge,
        "name": f"Officer {badge}",
        "role": "officer",
        "gender": "female",
        "languages": ["ur", "en"],
        "skills": {},
        "lines": ["women", "child"],
        "password_hash": "not-a-hash",
        **fields,
    }
    async with db() as session:
        row = Officer(**values)
        session.add(row)
        await session.flush()
        token = await start_login(session, row, "127.0.0.1", clock(), 72)
        await session.commit()
        return Browser(served, token, row.id)


async def until(check: Callable[[], Awaitable[bool]], wait: float = 5.0) -> None:
    """Wait (bounded) until ``check()`` holds: what the server does after it answered."""
    async with asyncio.timeout(wait):
        while True:
            if await check():
                return
            await asyncio.sleep(0.02)
