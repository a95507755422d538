-- Events partitioned by week, so that retention drops old weeks whole
-- (issue 13, SPEC section 9).
--
-- Deleting old rows costs as much as the rows, bloats the table and its
-- indexes, and holds locks while it runs; dropping a partition costs the same
-- however large it is. `events` becomes a table partitioned by RANGE
-- (received_at), one partition per UTC week (Monday to Monday), named
-- events_YYYYMMDD after its Monday (server/storage/partitions.py makes the
-- same names, and says why weeks and not days: every read orders by cursor,
-- not received_at, so it plans and opens every partition).
--
-- * received_at is the partition key because retention is by age, and it is
--   set by record_events() (clock_timestamp(), 0005) so every new row falls
--   in this week's partition. The service creates partitions AHEAD of time (at
--   start, then periodically: server/operations/retention.py). There is no
--   DEFAULT partition: with one, PostgreSQL refuses DETACH ... CONCURRENTLY
--   and scans the default partition whenever a partition is attached, so
--   removing or adding a week would lock out readers and writers. Instead,
--   the next week is always there (migration and every pass), so a write
--   finds its partition unless no server has run the pass for a week.
-- * A partitioned table's unique constraints must include the partition
--   key: the primary key is (id, received_at) and cursors are unique on
--   (cursor, received_at). Neither was ever enforced for its own sake: ids
--   are random UUIDs the server makes, and cursors are unique by how they
--   are made (0005).
-- * Foreign keys: run_events.event_id can no longer reference events (a
--   foreign key must name a unique constraint, which now includes
--   received_at). The retention pass removes an event's links with it. The
--   key from events.source_body_id to source_bodies goes too: bodies are
--   removed by the retention pass after their events (by received_at), and
--   its check cost every write a lookup and a row lock.
-- * Cursors, ids and every column keep their values: existing rows are
--   copied as they are, so every cursor and page token handed out before
--   this still works. record_events() is unchanged (it names `events`).
--
-- event_horizon: the highest cursor of any removed event. A watch resuming
-- below it would silently miss events, so it answers CURSOR_COMPACTED
-- instead (server/operations/watch.py).

ALTER TABLE run_events DROP CONSTRAINT run_events_event_id_fkey;

CREATE TABLE events_by_week (LIKE events INCLUDING DEFAULTS) PARTITION BY RANGE (received_at);

-- A partition for every week that holds events, for this week and the next
-- (the service keeps creating weeks ahead from here on).
DO $$
DECLARE
    day date;
BEGIN
    FOR day IN
        SELECT DISTINCT date_trunc('week', received_at AT TIME ZONE 'UTC')::date FROM events
        UNION
        SELECT date_trunc('week', now() AT TIME ZONE 'UTC')::date + ahead
        FROM unnest(ARRAY[0, 7]) AS ahead
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF events_by_week FOR VALUES FROM (%L) TO (%L)',
            'events_' || to_char(day, 'YYYYMMDD'),
            day::timestamp AT TIME ZONE 'UTC',
            (day + 7)::timestamp AT TIME ZONE 'UTC');
    END LOOP;
END
$$;

INSERT INTO events_by_week SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_by_week RENAME TO events;

-- The indexes of 0001 and 0003, now per partition; built after the copy.
ALTER TABLE events ADD PRIMARY KEY (id, received_at);
ALTER TABLE events ADD UNIQUE (cursor, received_at);
CREATE INDEX events_project_cursor ON events (project_id, cursor);
CREATE INDEX events_duplicate_key ON events (project_id, provider_event_id, stage);
CREATE INDEX events_provider_event_id ON events (provider_event_id, cursor);
CREATE INDEX events_project_provider_cursor ON events (project_id, provider, cursor);
CREATE INDEX events_provider_cursor ON events (provider, cursor);
CREATE INDEX events_source_body ON events (source_body_id) WHERE source_body_id IS NOT NULL;
ANALYZE events;

-- What the retention pass removes in batches, oldest first.
CREATE INDEX source_bodies_received_at ON source_bodies (received_at);
CREATE INDEX runs_updated_at ON runs (updated_at);
CREATE INDEX work_item_dry_runs_created_at ON work_item_dry_runs (created_at);
CREATE INDEX work_item_handoffs_created_at ON work_item_handoffs (created_at);

CREATE TABLE event_horizon (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- Every event at or below this cursor may have been removed; 0: none was.
    removed_through bigint NOT NULL,
    -- When the last partition was removed.
    removed_at timestamptz
);
INSERT INTO event_horizon (singleton, removed_through) VALUES (true, 0);
