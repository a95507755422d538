"""AWOOOP_EVENT_LOOP: the server on the standard library's loop or on uvloop's."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import grpc
import pydantic
import pytest
from awooop.channel_events.v1 import events_pb2, events_pb2_grpc

from server.__main__ import run
from server.config import Settings
from tests.server.test_process import (
    TOKEN,
    free_port,
    record_request,
    server_environment,
    server_process,
)


def test_the_default_loop_is_asyncio_and_an_unknown_one_is_refused() -> None:
    assert Settings().event_loop == "asyncio"
    assert Settings(AWOOOP_EVENT_LOOP="uvloop").event_loop == "uvloop"  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        Settings(AWOOOP_EVENT_LOOP="trio")  # type: ignore[call-arg]


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
def test_run_uses_the_loop_named(event_loop: str) -> None:
    seen: list[str] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()).__module__)

    run(main(), event_loop)
    assert seen[0].startswith("uvloop") == (event_loop == "uvloop")


async def test_on_uvloop_the_server_writes_reads_and_stops_cleanly(
    database: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {**server_environment(database, tmp_path, port), "AWOOOP_EVENT_LOOP": "uvloop"}
    async with server_process(env) as (process, _):
        metadata = (("authorization", f"Bearer {TOKEN}"),)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = events_pb2_grpc.EventServiceStub(channel)
            await asyncio.gather(*(
                stub.RecordAlertEvent(record_request(f"uv-{i}"), metadata=metadata)
                for i in range(20)
            ))
            page = await stub.ListRecentEvents(
                events_pb2.ListRecentEventsRequest(project_id="ops", limit=50), metadata=metadata
            )
            assert len(page.events) == 20
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
