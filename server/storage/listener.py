"""The commit listener: one LISTEN connection per server process.

After every event write, the writing server sends a NOTIFY on
'channel_events' (storage/commit_signal.py), which PostgreSQL delivers to
every listening process once it has committed. A notification carries no
cursor: on one, the listener reads `final_cursor` (storage/events.py), the
highest cursor below which every event is final, and reports that. It is
the only figure a reader may move a position to: a committed event's own
cursor is not, since a write that began earlier may still commit below it.
Notifications that arrive during a read are coalesced into one more read.

The connection is a dedicated one (`connect`), never a pooled one: the pool
resets each released connection with `UNLISTEN *`. When it drops, the
listener reconnects with backoff; after every (re)connect, and every
`check_interval` seconds while connected, it reads `final_cursor` too, since
a NOTIFY sent while it was down is lost. When that read finds committed
events waiting above the bound (a transaction still open below them), it
reads again after `pending_interval`, not `check_interval`: the bound moves
when that transaction ends, whoever ran it, NOTIFY or not. The periodic read
is also how a silently dead connection is noticed.

Reads happen only while some subscriber is interested (a watch with
streams): an idle replica receives the notifications and does nothing else
but its periodic read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from server.storage.database import CONNECTION_ERRORS, connect
from server.storage.events import NOTIFY_CHANNEL, final_cursor

log = logging.getLogger(__name__)

# Waits are bounded with asyncio.timeout, never asyncio.wait_for: on Python
# 3.11, wait_for drops a cancel that lands in the same turn of the loop as
# the end of what it waits for (a notification arriving as the server stops),
# and the listener then ran on and its close() waited forever
# (tests/storage/test_commit_listener.py).

# How operators (and tests) find this connection in pg_stat_activity.
APPLICATION_NAME = "channel-events-listener"


class CommitListener:
    """Calls each subscriber's `on_commit(cursor)` with final cursors, as
    writes commit. Shared by the watches of a process (one per transport): it
    is started by each and closed when the last of them closes."""

    def __init__(
        self,
        dsn: str,
        check_interval: float = 5.0,
        max_backoff: float = 5.0,
        pending_interval: float = 0.05,
    ) -> None:
        self._dsn = dsn
        self._subscribers: list[Callable[[int], None]] = []
        self._interests: list[Callable[[], bool]] = []
        self._pending_interval = pending_interval
        # A notification arrived (or the connection was lost) since the last read.
        self._poked = asyncio.Event()
        self._users = 0
        self._check_interval = check_interval
        self._max_backoff = max_backoff
        self._task: asyncio.Task[None] | None = None
        self._connection: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._connected = asyncio.Event()
        # Times the connection was (re)established: tests and logs read it.
        self.connects = 0

    def subscribe(
        self, on_commit: Callable[[int], None], interested: Callable[[], bool] = lambda: True
    ) -> None:
        """`interested`: whether this subscriber wants reads now (e.g. has streams)."""
        self._subscribers.append(on_commit)
        self._interests.append(interested)

    def _interested(self) -> bool:
        return any(interested() for interested in self._interests)

    def _on_commit(self, cursor: int) -> None:
        for on_commit in self._subscribers:
            on_commit(cursor)

    async def start(self, first_connect_timeout: float = 10.0) -> None:
        """Starts listening (once, whoever starts it first); waits (bounded)
        for the first connection so that a server that just started does not
        miss the events of its first calls."""
        self._users += 1
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="commit-listener")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(first_connect_timeout):
                await self._connected.wait()

    async def close(self) -> None:
        """Stops listening once every user that started it has closed it."""
        self._users -= 1
        if self._users > 0:
            return
        if self._task is not None:
            self._task.cancel()
            # Its end, whatever it was; a cancel of close() itself still
            # reaches the caller (awaiting the task and suppressing
            # CancelledError would swallow that one too).
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._drop_connection()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._listen()
                backoff = 0.1
            except CONNECTION_ERRORS as error:
                log.warning("commit listener lost its connection (%s); reconnecting in %.1fs",
                            type(error).__name__, backoff)
            except Exception:  # noqa: BLE001 - the listener must outlive any failure
                # e.g. a database refusing connections answers with a server
                # error, not a connection error: keep trying all the same,
                # or every subscriber of this process would wait forever.
                log.warning("commit listener failed; retrying in %.1fs", backoff, exc_info=True)
            await self._drop_connection()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _listen(self) -> None:
        """Listens until the connection is lost (returns or raises)."""
        self._lost.clear()
        connection = await connect(self._dsn)
        self._connection = connection
        connection.add_termination_listener(self._on_terminated)
        await connection.execute(f"SET application_name = '{APPLICATION_NAME}'")
        await connection.add_listener(NOTIFY_CHANNEL, self._on_notify)
        self.connects += 1
        self._connected.set()
        loop = asyncio.get_running_loop()
        last_read = -float("inf")
        pending = False
        while not connection.is_closed():
            # Read after LISTEN: whatever committed while we were away is
            # covered. Cleared before the read: a notification during it
            # makes one more read.
            self._poked.clear()
            if self._interested() or loop.time() - last_read >= self._check_interval:
                async with asyncio.timeout(self._check_interval):
                    final, pending = await final_cursor(connection)
                last_read = loop.time()
                self._on_commit(final)
            else:
                pending = False
            wait = self._pending_interval if pending else self._check_interval
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._poked.wait()
            if self._lost.is_set():
                return

    def _on_notify(self, connection: Any, pid: int, channel: str, payload: object) -> None:
        self._poked.set()

    def _on_terminated(self, connection: Any) -> None:
        self._lost.set()
        self._poked.set()

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        # Closing a connection whose server is gone may hang: bound it.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await connection.close()
        if not connection.is_closed():
            connection.terminate()
