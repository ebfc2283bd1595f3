"""The real app served on loopback from a thread of the test process, for blocking clients
(schemathesis): the server keeps its own event loop while the test calls it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

Run = Callable[[Coroutine[Any, Any, Any]], Any]
"""Runs a coroutine on the server's loop and returns its result (bounded wait)."""


@contextlib.contextmanager
def threaded_server(app: web.Application) -> Iterator[tuple[TestServer, Run]]:
    """``with threaded_server(app) as (server, run):`` the server is started, and closed
    (its loop stopped) at the end."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Coroutine[Any, Any, Any]) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, loop)
        return future.result(timeout=60)

    server = TestServer(app, host="127.0.0.1")
    try:
        run(server.start_server())
        yield server, run
    finally:
        run(server.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
