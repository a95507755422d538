-- record_events()'s duplicate check: one probe of one index per event,
-- whatever the table looked like when the connection planned it (replaces
-- 0005's function; everything else in it is unchanged).
--
-- The function keeps one generic plan per connection (0005 says why), made on
-- its first call, and a pooled connection lives for hours. 0005's check, an
-- EXISTS on (project_id, provider_event_id, stage), was planned for the
-- partitions as they were then. On an empty or nearly empty partition (a
-- fresh database; a new week's partition, every Monday, from its first write
-- until autovacuum first analyzes it) every plan costs the same, and the
-- planner took either a hashed subplan (read the whole partition once per
-- write) or an index on project_id alone (read every event of the project).
-- Kept while the partition grew, every write read all its rows: a write read
-- all 20,000 (tests/storage/test_write_plan.py), and a server's ingest fell
-- from ~1,100 to ~350 events/s within 20 s of a storm on a fresh database
-- (bench/RESULTS.md).
--
-- Now:
--   * the duplicate key is indexed as one value, ARRAY[project_id,
--     provider_event_id, stage] (text[] compares element by element, so two
--     keys are equal exactly when their three fields are), and the check
--     compares that value, which no other index can serve;
--   * the check is a LATERAL subquery with LIMIT 1, which PostgreSQL runs per
--     event (it cannot become a hashed subplan or a join);
--   * the function plans without sequential scans.
-- So the only plan left is a probe of events_duplicate_key in each partition.

DROP INDEX events_duplicate_key;
CREATE INDEX events_duplicate_key ON events ((ARRAY[project_id, provider_event_id, stage]));

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
-- Sequential scans off: that plan lives as long as the connection, and one
-- made while a partition was small must still probe the index (header).
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
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
        b.repeated_in_batch OR earlier.found IS NOT NULL,
        clock_timestamp(),
        b.source_body_id
    FROM batch b
    LEFT JOIN LATERAL (
        SELECT true AS found FROM events d
        WHERE ARRAY[d.project_id, d.provider_event_id, d.stage]
            = ARRAY[b.project_id, b.provider_event_id, b.stage]
        LIMIT 1
    ) AS earlier ON true
    ORDER BY b.ord
    RETURNING e.id, e.provider_event_id, e.cursor, e.is_duplicate;
END
$$;
