-- Event writes in one round trip: the cursor lock is held for microseconds.
--
-- Before this, a writer took the event_cursor row lock in one statement, sent
-- its INSERT in a second and COMMIT in a third: the lock was held across
-- three round trips to the server's Python, and every other writer of every
-- replica waited for them ("idle in transaction" in 97% of samples). Ingest
-- stopped at ~300 events/s and fell as concurrency grew.
--
-- record_events() does the whole write inside PostgreSQL, called as ONE
-- statement outside an explicit transaction (it commits right after):
--
--   1. the webhook body, if any (before the lock: it needs no order);
--   2. UPDATE event_cursor: the cursors, and the row lock, held to COMMIT;
--   3. the events, in a statement of their own. In READ COMMITTED a volatile
--      function takes a new snapshot per statement, so this one is taken
--      after the lock was granted: it holds every event committed before,
--      and "an earlier event with the same duplicate key" is exact;
--   4. pg_notify with the highest cursor, sent by PostgreSQL at COMMIT.
--
-- Cursor order is still commit order, for the same reason as before (0001):
-- the next writer gets its numbers only once this one has committed. What
-- changed is how long the lock is held: the INSERT's execution and the
-- commit, never a network round trip. Cursors keep their meaning, so every
-- cursor and page token handed out before this migration still works.
--
-- The parameters are the events' columns as arrays, one element per event,
-- named in_<column> and passed by name (server/storage/events.py builds the
-- call from its COLUMNS); jsonb travels as text. in_repeated_in_batch: an
-- earlier event of the same batch has the same duplicate key.
--
-- Measured (bench/bench_write_paths.py): see bench/RESULTS.md.
CREATE FUNCTION record_events(
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
    first_cursor bigint;
BEGIN
    IF in_body_id IS NOT NULL THEN
        INSERT INTO source_bodies (id, project_id, provider, fields)
        VALUES (in_body_id, in_body_project_id, in_body_provider, in_body_fields::jsonb);
    END IF;
    IF n = 0 THEN
        RETURN;  -- no cursor taken, nothing to notify
    END IF;

    UPDATE event_cursor SET last_cursor = last_cursor + n
    RETURNING last_cursor - n + 1 INTO first_cursor;
    PERFORM pg_notify('channel_events', (first_cursor + n - 1)::text);

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
        b.id, first_cursor + b.ord - 1, b.project_id, b.channel_type, b.provider,
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
