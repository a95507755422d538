"""Stopping the HTTP front door (server/http/app.py, HttpServer)."""

from __future__ import annotations

import asyncio

import pytest

from tests.harness import Service

pytestmark = pytest.mark.timeout(30)


async def test_a_cancelled_stop_accepting_ends_cancelled(service: Service) -> None:
    # Whoever cancels a shutdown (a caller that gave up on it) must be told
    # it did not finish, not find it returned as if it had.
    stopping = asyncio.create_task(service.app.http.stop_accepting())
    await asyncio.sleep(0)  # now waiting for uvicorn's loop to see should_exit
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    # A second stop_accepting finishes the job: the listener is closed.
    await service.app.http.stop_accepting()
    with pytest.raises(OSError):
        _, writer = await asyncio.open_connection("127.0.0.1", service.app.http_port)
        writer.close()
