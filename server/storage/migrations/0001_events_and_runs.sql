-- Events, agent runs and their links.

-- One row that hands out event cursors. A writer takes its cursor by updating
-- this row as the last step before COMMIT; the row lock is held until the
-- commit, so the next writer gets the next number only after this one has
-- committed. Cursor order is therefore commit order: a reader that has seen
-- cursor C can never later find a newly committed event below C. (A plain
-- sequence hands out numbers at insert time, and concurrent transactions may
-- commit in another order, which would let a watcher skip an event.)
CREATE TABLE event_cursor (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_cursor bigint NOT NULL
);
INSERT INTO event_cursor (singleton, last_cursor) VALUES (true, 0);

CREATE TABLE events (
    id uuid PRIMARY KEY,
    cursor bigint NOT NULL UNIQUE,
    project_id text NOT NULL,
    channel_type text NOT NULL,
    provider text NOT NULL,
    provider_event_id text NOT NULL,
    stage text NOT NULL,
    channel_chat_id text NOT NULL DEFAULT '',
    alertname text NOT NULL DEFAULT '',
    severity text NOT NULL DEFAULT '',
    namespace text NOT NULL DEFAULT '',
    target_resource text NOT NULL DEFAULT '',
    fingerprint text NOT NULL DEFAULT '',
    recurrence_key text NOT NULL,
    content_redacted text NOT NULL,
    content_preview text NOT NULL,
    has_redacted_content boolean NOT NULL,
    redaction_version text NOT NULL,
    content_sha256 text NOT NULL,
    content_length integer NOT NULL,
    source_url text NOT NULL DEFAULT '',
    source_refs jsonb NOT NULL DEFAULT '[]',
    source_ref_count integer NOT NULL DEFAULT 0,
    -- Whether any ref is of that system: kept as columns so that coverage and
    -- recurrence totals are plain sums.
    has_sentry_ref boolean NOT NULL DEFAULT false,
    has_signoz_ref boolean NOT NULL DEFAULT false,
    has_alert_ref boolean NOT NULL DEFAULT false,
    log_correlation jsonb NOT NULL DEFAULT '{}',
    -- NULL only for rows imported from a legacy mirror.
    source_envelope jsonb,
    is_duplicate boolean NOT NULL,
    provider_ts timestamptz,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_project_cursor ON events (project_id, cursor);
CREATE INDEX events_duplicate_key ON events (project_id, provider_event_id, stage);
CREATE INDEX events_provider_event_id ON events (provider_event_id, cursor);

CREATE TABLE runs (
    run_id uuid PRIMARY KEY,
    project_id text NOT NULL,
    state text NOT NULL,
    agent_id text,
    incident_id text,
    repair_status text NOT NULL DEFAULT 'none',
    repair_summary text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Orders runs by "recorded or updated last" without trusting clock ties.
    update_seq bigint NOT NULL
);
CREATE SEQUENCE run_update_seq;

CREATE TABLE run_events (
    run_id uuid NOT NULL REFERENCES runs (run_id),
    event_id uuid NOT NULL REFERENCES events (id),
    linked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, event_id)
);
CREATE INDEX run_events_event ON run_events (event_id);
