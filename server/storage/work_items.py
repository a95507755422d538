"""Work item history SQL: dry-run records and handoffs.

These two tables are the only ones work item RPCs ever write. A handoff is
unique per (work_item_id, handoff_kind) in the schema; a repeat is an
INSERT ... ON CONFLICT DO NOTHING followed by reading the row that won, so
concurrent identical handoffs leave exactly one record.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from server.domain.work_items import (
    DryRunOutcome,
    DryRunRecord,
    HandoffKind,
    HandoffRecord,
    HistoryRecord,
    PreflightCheck,
    Proposal,
    WorkItemKind,
    WorkItemMode,
)

_DRY_RUN_COLUMNS = """
    dry_run_id, work_item_id, project_id, recurrence_key, kind, mode, outcome,
    checks, failed_checks, operator_id, created_at
"""

_HANDOFF_COLUMNS = """
    handoff_id, work_item_id, project_id, handoff_kind, dry_run_id, proposal_title,
    proposal_description_markdown, proposal_severity, operator_id, created_at
"""


def _dry_run(row: asyncpg.Record) -> DryRunRecord:
    return DryRunRecord(
        dry_run_id=row["dry_run_id"],
        work_item_id=row["work_item_id"],
        project_id=row["project_id"],
        recurrence_key=row["recurrence_key"],
        kind=WorkItemKind(row["kind"]),
        mode=WorkItemMode(row["mode"]),
        outcome=DryRunOutcome(row["outcome"]),
        checks=[PreflightCheck(**check) for check in row["checks"]],
        failed_checks=list(row["failed_checks"]),
        operator_id=row["operator_id"],
        created_at=row["created_at"],
    )


def _handoff(row: asyncpg.Record) -> HandoffRecord:
    return HandoffRecord(
        handoff_id=row["handoff_id"],
        work_item_id=row["work_item_id"],
        project_id=row["project_id"],
        handoff_kind=HandoffKind(row["handoff_kind"]),
        dry_run_id=row["dry_run_id"],
        proposal=Proposal(
            title=row["proposal_title"],
            description_markdown=row["proposal_description_markdown"],
            severity=row["proposal_severity"],
        ),
        operator_id=row["operator_id"],
        created_at=row["created_at"],
    )


async def insert_dry_run(
    connection: asyncpg.Connection,
    *,
    work_item_id: str,
    project_id: str,
    recurrence_key: str,
    kind: WorkItemKind,
    mode: WorkItemMode,
    outcome: DryRunOutcome,
    checks: Sequence[PreflightCheck],
    failed_checks: Sequence[str],
    operator_id: str,
) -> DryRunRecord:
    row = await connection.fetchrow(
        f"""INSERT INTO work_item_dry_runs (
                dry_run_id, work_item_id, project_id, recurrence_key, kind, mode,
                outcome, checks, failed_checks, operator_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::text[], $10)
            RETURNING {_DRY_RUN_COLUMNS}""",
        uuid.uuid4(),
        work_item_id,
        project_id,
        recurrence_key,
        kind.value,
        mode.value,
        outcome.value,
        [vars(check) for check in checks],
        list(failed_checks),
        operator_id,
    )
    assert row is not None  # INSERT ... RETURNING always returns the row
    return _dry_run(row)


def latest_dry_run_query(work_item_id: str) -> tuple[str, list[Any]]:
    """HandoffWorkItem's read of the dry-run it names.
    Pure; the bench baseline (bench/baseline.py) runs exactly this SQL."""
    return (
        f"""SELECT {_DRY_RUN_COLUMNS} FROM work_item_dry_runs
            WHERE work_item_id = $1 ORDER BY seq DESC LIMIT 1""",
        [work_item_id],
    )


async def latest_dry_run(connection: asyncpg.Connection, work_item_id: str) -> DryRunRecord | None:
    sql, args = latest_dry_run_query(work_item_id)
    row = await connection.fetchrow(sql, *args)
    return _dry_run(row) if row else None


async def insert_handoff_once(
    connection: asyncpg.Connection,
    *,
    work_item_id: str,
    project_id: str,
    handoff_kind: HandoffKind,
    dry_run_id: UUID,
    proposal: Proposal,
    operator_id: str,
) -> tuple[HandoffRecord, bool]:
    """The handoff of (work_item_id, handoff_kind): this one if it is the first
    (created=True), else the one recorded before (created=False)."""
    row = await connection.fetchrow(
        f"""INSERT INTO work_item_handoffs (
                handoff_id, work_item_id, project_id, handoff_kind, dry_run_id,
                proposal_title, proposal_description_markdown, proposal_severity,
                operator_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (work_item_id, handoff_kind) DO NOTHING
            RETURNING {_HANDOFF_COLUMNS}""",
        uuid.uuid4(),
        work_item_id,
        project_id,
        handoff_kind.value,
        dry_run_id,
        proposal.title,
        proposal.description_markdown,
        proposal.severity,
        operator_id,
    )
    if row is not None:
        return _handoff(row), True
    # A new statement sees the row that won the conflict: ON CONFLICT waited
    # for that transaction to commit before doing nothing.
    existing = await connection.fetchrow(
        f"""SELECT {_HANDOFF_COLUMNS} FROM work_item_handoffs
            WHERE work_item_id = $1 AND handoff_kind = $2""",
        work_item_id,
        handoff_kind.value,
    )
    assert existing is not None
    return _handoff(existing), False


def history_queries(
    work_item_id: str, project_id: str
) -> tuple[tuple[str, list[Any]], tuple[str, list[Any]]]:
    """ListWorkItemHistory's two statements (dry-runs, then handoffs) and
    their arguments, each row with its `seq` ("" = any project).
    Pure; the bench baseline (bench/baseline.py) runs exactly this SQL."""
    args: list[Any] = [work_item_id]
    scope = ""
    if project_id:
        args.append(project_id)
        scope = "AND project_id = $2"
    return (
        (
            f"SELECT {_DRY_RUN_COLUMNS}, seq FROM work_item_dry_runs "
            f"WHERE work_item_id = $1 {scope}",
            list(args),
        ),
        (
            f"SELECT {_HANDOFF_COLUMNS}, seq FROM work_item_handoffs "
            f"WHERE work_item_id = $1 {scope}",
            list(args),
        ),
    )


async def history(
    connection: asyncpg.Connection, work_item_id: str, project_id: str
) -> list[HistoryRecord]:
    """Dry-runs and handoffs of a work item, newest first ("" = any project)."""
    (dry_runs_sql, dry_runs_args), (handoffs_sql, handoffs_args) = history_queries(
        work_item_id, project_id
    )
    dry_runs = await connection.fetch(dry_runs_sql, *dry_runs_args)
    handoffs = await connection.fetch(handoffs_sql, *handoffs_args)
    ordered: list[tuple[int, HistoryRecord]] = [
        *((row["seq"], _dry_run(row)) for row in dry_runs),
        *((row["seq"], _handoff(row)) for row in handoffs),
    ]
    ordered.sort(key=lambda pair: pair[0], reverse=True)
    return [record for _, record in ordered]
