"""The commit listener (server/storage/listener.py) on a real PostgreSQL."""

from __future__ import annotations

import asyncio

from server.storage.events import NOTIFY_CHANNEL
from server.storage.listener import CommitListener


async def test_it_stops_when_closed_as_a_notification_arrives(database: str) -> None:
    # On Python 3.11, asyncio.wait_for returned the result of what it waited
    # for when that finished in the same turn of the loop as a cancel, and
    # dropped the cancel: a listener closed just as a notification came kept
    # listening, and the server's stop waited on it forever.
    listener = CommitListener(database, check_interval=60)
    listener.subscribe(lambda cursor: None, interested=lambda: False)
    await listener.start()
    await asyncio.sleep(0.2)  # past its first read, waiting for a notification
    listening = listener._task
    assert listening is not None

    listener._on_notify(None, 0, NOTIFY_CHANNEL, "")  # as asyncpg delivers one
    closing = asyncio.create_task(listener.close())
    try:
        done, _ = await asyncio.wait({closing}, timeout=5)
        assert closing in done and listening.done()
    finally:
        listening.cancel()
        await asyncio.gather(closing, listening, return_exceptions=True)
