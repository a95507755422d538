"""Watching events from a test: a WatchEvents call read in the background."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import grpc
from awooop.channel_events.v1 import events_pb2, events_pb2_grpc


@dataclass
class Received:
    """What one stream delivered, in order."""

    events: list[events_pb2.WatchEventsResponse] = field(default_factory=list)
    progress: list[str] = field(default_factory=list)
    # Cursor of the last message of either kind: where a client resumes.
    last_cursor: str = ""

    @property
    def event_ids(self) -> list[str]:
        return [r.event.event_id for r in self.events]

    @property
    def cursors(self) -> list[str]:
        return [r.event.cursor for r in self.events]


class Subscription:
    """A WatchEvents call read by a background task until cancelled or ended."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        delay: float = 0.0,
        **request: Any,
    ) -> None:
        self.received = Received()
        self._stub = events_pb2_grpc.EventServiceStub(channel)
        self._request = events_pb2.WatchEventsRequest(**request)
        self._delay = delay
        self._call: Any = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.ended: grpc.StatusCode | None = None

    async def open(self, timeout: float = 10.0) -> Subscription:
        """Starts the call and waits for its opening progress message, so the
        server is surely following before the test writes anything."""
        self._call = self._stub.WatchEvents(self._request)
        self._task = asyncio.create_task(self._read())
        await self.until(lambda r: bool(r.progress), timeout)
        return self

    async def _read(self) -> None:
        try:
            async for response in self._call:
                if response.HasField("event"):
                    self.received.events.append(response)
                    self.received.last_cursor = response.event.cursor
                else:
                    self.received.progress.append(response.progress.cursor)
                    self.received.last_cursor = response.progress.cursor
                self._changed.set()
                if self._delay:
                    await asyncio.sleep(self._delay)
            self.ended = grpc.StatusCode.OK
        except grpc.aio.AioRpcError as error:
            self.ended = error.code()
        finally:
            self._changed.set()

    async def until(self, condition: Any, timeout: float = 10.0) -> None:
        """Waits until condition(received) holds (or the stream ends)."""
        async def wait() -> None:
            while not condition(self.received):
                if self._task is not None and self._task.done():
                    raise AssertionError(f"stream ended ({self.ended}) before the condition held")
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout)

    async def until_past(self, cursor: str, timeout: float = 20.0) -> None:
        """Waits until the stream has reported a position at or past `cursor`."""
        await self.until(lambda r: r.last_cursor >= cursor, timeout)

    async def until_ended(self, timeout: float = 10.0) -> grpc.StatusCode | None:
        assert self._task is not None
        await asyncio.wait_for(asyncio.shield(self._task), timeout)
        return self.ended

    async def cancel(self) -> None:
        if self._call is not None:
            self._call.cancel()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
