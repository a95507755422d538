-- Event writes without a global ordering point (replaces 0004's function).
--
-- 0004 made a write one round trip, but every write still held the single
-- event_cursor row lock through its COMMIT, and with it the WAL flush: writes
-- committed one at a time, never together in one flush (group commit). With
-- a flush of 0.3 ms that capped ingest near 1,000 writes/s; on a disk whose
-- flush takes 15 ms (this machine under other load) at ~60/s, while plain
-- INSERTs kept committing thousands a second. The NOTIFY every write sent
-- did the same: PostgreSQL serialises the commits of notifying transactions.
--
-- Now no write waits for another, except for another of the same duplicate
-- key. How cursors still give every subscriber one order with no gap
-- (the "transactional outbox" reading of PgQ and others):
--
--   * An event's cursor is (its transaction's id << 20) + its place in the
--     batch (1.., at most 1,000 events a body). Transaction ids are handed out
--     in increasing order, so cursors are unique and follow the order in
--     which writes began to write, not the order of their commits.
--   * Take xmin = pg_snapshot_xmin(pg_current_snapshot()): every transaction
--     with a smaller id has ended, and every later one gets a larger id. So
--     no event with a cursor below (xmin << 20) can ever appear again:
--     everything below it is final. A reader reads only up to the highest
--     final cursor (storage/events.py, final_cursor) and so never moves past
--     an event still to commit. A transaction that stays open holds that
--     bound back (delays delivery; loses nothing): every write here is bounded
--     by statement_timeout.
--   * Existing cursors keep working: events written before this keep their
--     cursors (1..last_cursor), and every new cursor is larger, since each of
--     those writes took a transaction id and wrote at most 1,000 events
--     (checked below). event_cursor.last_cursor stays as the highest cursor
--     handed out the old way.
--   * Duplicates stay exact: a writer first takes a transaction-scoped
--     advisory lock per duplicate key of its batch (in key order: no
--     deadlock), and only then takes its transaction id and checks for an
--     earlier event in a statement of its own (a new snapshot). Two writes of
--     one key run one after the other, and the later one has the larger
--     cursor and sees the earlier one.
--   * event_cursor is still every write's gate, now shared: each write takes
--     it FOR KEY SHARE, which never blocks another write; a session holding
--     it FOR UPDATE (maintenance) pauses every write until it lets go.
--   * The NOTIFY moved out of the write: the writing server sends it after
--     the commit, from a transaction of its own that needs no WAL flush
--     (storage/commit_signal.py).

-- Every cursor of the old scheme is below every cursor of the new one.
DO $$
BEGIN
    IF (SELECT last_cursor FROM event_cursor) >= (pg_current_xact_id()::text::bigint << 20) THEN
        RAISE EXCEPTION 'event_cursor.last_cursor is above the first transaction-id cursor';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION record_events(
    in_body_id uuid,
    in_body_project_id text,
    in_body_provider text,
    in_body_fields text,
    in_id uuid[],
    in_project_id text[],
    in_channel_type text[],
    in_provider text[],
    in_provider_event_id text[],
    in_stage text[],
    in_channel_chat_id text[],
    in_alertname text[],
    in_severity text[],
    in_namespace text[],
    in_target_resource text[],
    in_fingerprint text[],
    in_recurrence_key text[],
    in_content_redacted text[],
    in_content_preview text[],
    in_has_redacted_content boolean[],
    in_redaction_version text[],
    in_content_sha256 text[],
    in_content_length integer[],
    in_source_url text[],
    in_source_refs text[],
    in_source_ref_count integer[],
    in_has_sentry_ref boolean[],
    in_has_signoz_ref boolean[],
    in_has_alert_ref boolean[],
    in_log_correlation text[],
    in_source_envelope text[],
    in_provider_ts timestamptz[],
    in_source_body_id uuid[],
    in_repeated_in_batch boolean[]
) RETURNS TABLE (id uuid, provider_event_id text, cursor bigint, is_duplicate boolean)
-- A generic plan, always: with the array sizes known, PostgreSQL judges a
-- custom plan cheaper every time and so plans the INSERT anew on every call
-- (measured: 0.66 ms a call with, 0.45 ms without, one event, one writer).
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    n integer := coalesce(cardinality(in_id), 0);
    stamp bigint;
BEGIN
    IF n >= 1048576 THEN
        RAISE EXCEPTION 'a write holds at most 1048575 events';
    END IF;
    -- Before anything that takes a transaction id (see the header).
    PERFORM pg_advisory_xact_lock(1163284052, k.key) FROM (
        SELECT DISTINCT hashtext(p || chr(31) || e || chr(31) || s) AS key
        FROM unnest(in_project_id, in_provider_event_id, in_stage) AS t(p, e, s)
        ORDER BY 1
    ) AS k;
    PERFORM 1 FROM event_cursor FOR KEY SHARE;
    IF in_body_id IS NOT NULL THEN
        INSERT INTO source_bodies (id, project_id, provider, fields)
        VALUES (in_body_id, in_body_project_id, in_body_provider, in_body_fields::jsonb);
    END IF;
    IF n = 0 THEN
        RETURN;
    END IF;
    stamp := pg_current_xact_id()::text::bigint << 20;

    RETURN QUERY
    WITH batch AS (
        SELECT * FROM unnest(
            in_id, in_project_id, in_channel_type, in_provider, in_provider_event_id,
            in_stage, in_channel_chat_id, in_alertname, in_severity, in_namespace,
            in_target_resource, in_fingerprint, in_recurrence_key, in_content_redacted,
            in_content_preview, in_has_redacted_content, in_redaction_version,
            in_content_sha256, in_content_length, in_source_url, in_source_refs,
            in_source_ref_count, in_has_sentry_ref, in_has_signoz_ref, in_has_alert_ref,
            in_log_correlation, in_source_envelope, in_provider_ts, in_source_body_id,
            in_repeated_in_batch
        ) WITH ORDINALITY AS b(
            id, project_id, channel_type, provider, provider_event_id,
            stage, channel_chat_id, alertname, severity, namespace,
            target_resource, fingerprint, recurrence_key, content_redacted,
            content_preview, has_redacted_content, redaction_version,
            content_sha256, content_length, source_url, source_refs,
            source_ref_count, has_sentry_ref, has_signoz_ref, has_alert_ref,
            log_correlation, source_envelope, provider_ts, source_body_id,
            repeated_in_batch, ord
        )
    )
    INSERT INTO events AS e (
        id, cursor, project_id, channel_type, provider, provider_event_id, stage,
        channel_chat_id, alertname, severity, namespace, target_resource, fingerprint,
        recurrence_key, content_redacted, content_preview, has_redacted_content,
        redaction_version, content_sha256, content_length, source_url, source_refs,
        source_ref_count, has_sentry_ref, has_signoz_ref, has_alert_ref,
        log_correlation, source_envelope, provider_ts, is_duplicate, received_at,
        source_body_id
    )
    SELECT
        b.id, stamp + b.ord, b.project_id, b.channel_type, b.provider,
        b.provider_event_id, b.stage, b.channel_chat_id, b.alertname, b.severity,
        b.namespace, b.target_resource, b.fingerprint, b.recurrence_key,
        b.content_redacted, b.content_preview, b.has_redacted_content,
        b.redaction_version, b.content_sha256, b.content_length, b.source_url,
        b.source_refs::jsonb, b.source_ref_count, b.has_sentry_ref, b.has_signoz_ref,
        b.has_alert_ref, b.log_correlation::jsonb, b.source_envelope::jsonb,
        b.provider_ts,
        b.repeated_in_batch OR EXISTS (
            SELECT 1 FROM events d
            WHERE d.project_id = b.project_id
              AND d.provider_event_id = b.provider_event_id
              AND d.stage = b.stage),
        clock_timestamp(),
        b.source_body_id
    FROM batch b
    ORDER BY b.ord
    RETURNING e.id, e.provider_event_id, e.cursor, e.is_duplicate;
END
$$;
