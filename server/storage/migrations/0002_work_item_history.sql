-- Work item history: pre-flight dry-runs and handoffs (SPEC section 4).
-- Neither table points at events, runs or incidents: a work item is derived
-- from the recurrence read model each time, and only what an operator did
-- about it is stored here.

-- One sequence for both tables, so "newest first" across dry-runs and
-- handoffs is exact even when two records share a clock reading.
CREATE SEQUENCE work_item_history_seq;

CREATE TABLE work_item_dry_runs (
    dry_run_id uuid PRIMARY KEY,
    work_item_id text NOT NULL,
    project_id text NOT NULL,
    recurrence_key text NOT NULL,
    kind text NOT NULL,
    mode text NOT NULL,
    outcome text NOT NULL,
    -- [{name, passed, detail}] in check order.
    checks jsonb NOT NULL,
    failed_checks text[] NOT NULL,
    operator_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    seq bigint NOT NULL DEFAULT nextval('work_item_history_seq')
);
CREATE INDEX work_item_dry_runs_item ON work_item_dry_runs (work_item_id, seq);

CREATE TABLE work_item_handoffs (
    handoff_id uuid PRIMARY KEY,
    work_item_id text NOT NULL,
    project_id text NOT NULL,
    handoff_kind text NOT NULL,
    dry_run_id uuid NOT NULL REFERENCES work_item_dry_runs (dry_run_id),
    proposal_title text NOT NULL,
    proposal_description_markdown text NOT NULL,
    proposal_severity text NOT NULL,
    operator_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    seq bigint NOT NULL DEFAULT nextval('work_item_history_seq'),
    -- Idempotency lives here, not in a read-then-write: concurrent identical
    -- handoffs race on this constraint and exactly one row wins.
    UNIQUE (work_item_id, handoff_kind)
);

-- The recurrence window (and coverage) with a provider filter: without these,
-- a rare provider makes PostgreSQL walk or sort a whole project's rows; with
-- them the newest matching rows are read backwards from the index and the
-- walk stops at LIMIT, whatever the table holds.
CREATE INDEX events_project_provider_cursor ON events (project_id, provider, cursor);
CREATE INDEX events_provider_cursor ON events (provider, cursor);
