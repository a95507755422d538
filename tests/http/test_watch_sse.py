"""GET /events/watch: WatchEvents as Server-Sent Events, with its guarantees:
every event once, in cursor order, `id:` the cursor, resumable with
Last-Event-ID after a disconnect with no gap, progress while idle."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.harness import Service, start_service


@dataclass
class Frame:
    event: str
    id: str | None
    data: dict[str, Any]


@dataclass
class SseReader:
    """Reads frames of one open SSE response into `frames`."""

    response: httpx.Response
    frames: list[Frame] = field(default_factory=list)
    ended: bool = False

    async def run(self) -> None:
        event, ident, data = "message", None, ""
        async for line in self.response.aiter_lines():
            if line == "":
                if data:
                    self.frames.append(Frame(event, ident, json.loads(data)))
                event, ident, data = "message", None, ""
            elif line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("id: "):
                ident = line.removeprefix("id: ")
            elif line.startswith("data: "):
                data += line.removeprefix("data: ")
        self.ended = True

    def events(self) -> list[Frame]:
        return [f for f in self.frames if f.event == "event"]

    async def until(self, predicate: Any, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self):
                await asyncio.sleep(0.02)


@asynccontextmanager
async def watching(
    service: Service, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[SseReader]:
    async with httpx.AsyncClient(base_url=service.http_url, timeout=30) as client:
        async with client.stream("GET", "/events/watch", params=params, headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = SseReader(response)
            task = asyncio.create_task(reader.run())
            try:
                await reader.until(lambda r: r.frames)  # the opening progress
                yield reader
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


async def test_events_arrive_in_order_with_their_cursor_as_id(service: Service) -> None:
    async with watching(service, {"project_id": "alpha"}) as reader:
        assert reader.frames[0].event == "progress"
        recorded = [await service.record(title=f"e{i}") for i in range(5)]
        await service.record(project_id="beta", title="not watched")
        await reader.until(lambda r: len(r.events()) >= 5)
        events = reader.events()
        assert [f.data["event_id"] for f in events] == [r.event_id for r in recorded]
        assert [f.id for f in events] == [r.cursor for r in recorded]
        assert [f.data["cursor"] for f in events] == [r.cursor for r in recorded]
        assert events[0].data["content_preview"] == "e0"


async def test_a_reconnect_with_last_event_id_resumes_with_no_gap(service: Service) -> None:
    first = [await service.record(title=f"a{i}") for i in range(3)]
    async with watching(service, {"after_cursor": first[0].cursor}) as reader:
        await reader.until(lambda r: len(r.events()) >= 2)
        seen = reader.events()
        last_id = seen[-1].id
    assert [f.data["event_id"] for f in seen] == [r.event_id for r in first[1:]]
    missed = [await service.record(title=f"b{i}") for i in range(4)]
    # A reconnect repeats the first URL: Last-Event-ID wins over its after_cursor.
    async with watching(
        service, {"after_cursor": first[0].cursor}, {"Last-Event-ID": str(last_id)}
    ) as reader:
        await reader.until(lambda r: len(r.events()) >= 4)
        later = await service.record(title="c")
        await reader.until(lambda r: len(r.events()) >= 5)
        assert [f.data["event_id"] for f in reader.events()] == [
            r.event_id for r in [*missed, later]
        ]


async def test_progress_is_sent_while_idle_and_is_resumable(fast: Service) -> None:
    async with watching(fast) as reader:
        await reader.until(lambda r: len(r.frames) >= 3, timeout=5)
        assert {f.event for f in reader.frames} == {"progress"}
        assert all(f.id == f.data["cursor"] for f in reader.frames)


async def test_a_bad_cursor_is_a_status_before_the_stream_starts(service: Service) -> None:
    async with httpx.AsyncClient(base_url=service.http_url, timeout=10) as client:
        response = await client.get("/events/watch", params={"after_cursor": "zz"})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "after_cursor"]
        beyond = await client.get("/events/watch", headers={"Last-Event-ID": "00000000000fffff"})
        assert beyond.status_code == 422


async def test_shutdown_ends_the_stream_with_an_error_frame(database: str) -> None:
    service = await start_service(database)
    try:
        async with watching(service) as reader:
            await service.app.stop(grace=2.0)
            await reader.until(lambda r: r.ended, timeout=10)
            last = reader.frames[-1]
            assert last.event == "error"
            assert last.data["status"] == 503 and last.data["reason"] == "SHUTTING_DOWN"
    finally:
        await service.channel.close()
        await service.store.pool.close()
