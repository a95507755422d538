"""Telling every server's watch that events committed: one NOTIFY, sent by
the writing server after its write, never by the write itself.

PostgreSQL serialises the commits of transactions that NOTIFY (a lock held
through the commit's WAL flush), so a NOTIFY inside each write made writes
commit one at a time. Here the NOTIFY runs in a transaction of its own with
synchronous_commit off: nothing in it needs to reach the disk (a lost
notification is covered by the listeners' periodic check), so it holds that
lock for microseconds, and under a storm one NOTIFY covers every write that
committed while the previous one was being sent and in the NOTIFY_INTERVAL
after it.

Sent after a failed write too: an aborted transaction may have been holding
the watchers' bound back (storage/events.py, final_cursor).
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from server.storage.events import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

# At most one NOTIFY this often (seconds): the first write after a quiet
# spell is announced at once, a storm's writes at most this much later.
NOTIFY_INTERVAL = 0.005

# One simple query, hence one implicit transaction: SET LOCAL lasts until its end.
_NOTIFY = f"SET LOCAL synchronous_commit = off; SELECT pg_notify('{NOTIFY_CHANNEL}', '')"


class CommitSignal:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        # A write finished since the last NOTIFY was sent.
        self._dirty = False
        self._sender: asyncio.Task[None] | None = None
        # NOTIFYs sent (tests and benches read it).
        self.sent = 0

    def written(self) -> None:
        """Called once a write has ended (committed or not). Never waits."""
        self._dirty = True
        # No await between the sender's last look at _dirty and its end, so
        # either it sees this write or it is done and a new one starts.
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(
                self._send(), name="commit-signal"
            )

    async def _send(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                async with self._pool.acquire() as connection:
                    await connection.execute(_NOTIFY)
            except Exception:  # noqa: BLE001 - the listeners' periodic check covers it
                log.debug("commit signal not sent", exc_info=True)
                return
            self.sent += 1
            # Writes that end meanwhile share the next NOTIFY. Without a pause
            # a storm had one sent after nearly every write: a transaction of
            # its own, and a wake-up of every listening server, per event.
            await asyncio.sleep(NOTIFY_INTERVAL)
