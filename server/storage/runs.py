"""Agent run SQL: upserts and links to events."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from server.domain.models import RepairStatus, Run, RunInput, RunState
from server.domain.errors import FieldViolation, InvalidArgument, NotFound

_UPSERT = """
INSERT INTO runs (run_id, project_id, state, agent_id, incident_id, repair_status,
                  repair_summary, update_seq)
VALUES ($1, $2, coalesce($3, 'queued'), $4, $5, coalesce($6, 'none'), $7,
        nextval('run_update_seq'))
ON CONFLICT (run_id) DO UPDATE SET
    state = coalesce($3, runs.state),
    agent_id = coalesce($4, runs.agent_id),
    incident_id = coalesce($5, runs.incident_id),
    repair_status = coalesce($6, runs.repair_status),
    repair_summary = coalesce($7, runs.repair_summary),
    updated_at = now(),
    update_seq = nextval('run_update_seq')
WHERE runs.project_id = EXCLUDED.project_id
RETURNING run_id, project_id, state, agent_id, incident_id, repair_status,
          repair_summary, (xmax = 0) AS created
"""


async def check_events_belong(
    connection: asyncpg.Connection, project_id: str, event_ids: Sequence[UUID]
) -> None:
    """Raises NotFound for unknown events, InvalidArgument for another project's."""
    if not event_ids:
        return
    rows = await connection.fetch(
        "SELECT id, project_id FROM events WHERE id = ANY($1::uuid[])", list(event_ids)
    )
    found = {row["id"]: row["project_id"] for row in rows}
    missing = [str(i) for i in event_ids if i not in found]
    if missing:
        raise NotFound(f"unknown event ids: {', '.join(missing[:5])}", "EVENT_NOT_FOUND")
    if any(project != project_id for project in found.values()):
        raise InvalidArgument(
            [FieldViolation("event_ids", "events must belong to the run's project")]
        )


async def upsert_run(connection: asyncpg.Connection, run: RunInput) -> Run:
    """Creates or updates a run and adds its links, in the caller's transaction."""
    await check_events_belong(connection, run.project_id, run.event_ids)
    row = await connection.fetchrow(
        _UPSERT,
        run.run_id,
        run.project_id,
        run.state,
        run.agent_id,
        run.incident_id,
        run.repair_status,
        run.repair_summary,
    )
    if row is None:  # the run exists, in another project
        raise InvalidArgument([FieldViolation("run_id", "run belongs to another project")])
    if run.event_ids:
        await connection.execute(
            """INSERT INTO run_events (run_id, event_id)
               SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING""",
            run.run_id,
            list(dict.fromkeys(run.event_ids)),
        )
    linked = await connection.fetchval(
        "SELECT count(*) FROM run_events WHERE run_id = $1", run.run_id
    )
    return Run(
        run_id=row["run_id"],
        project_id=row["project_id"],
        state=RunState(row["state"]),
        agent_id=row["agent_id"],
        incident_id=row["incident_id"],
        repair_status=RepairStatus(row["repair_status"]),
        repair_summary=row["repair_summary"],
        created=row["created"],
        linked_event_total=linked,
    )
