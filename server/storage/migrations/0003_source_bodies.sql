-- What a webhook body says besides its events (SPEC 2b's `payload`: the
-- top-level fields other than `alerts`; for Sentry the whole body), redacted
-- and stored ONCE per body. Before this, every event of a body carried its
-- own copy in source_envelope: a body of 200 alerts and a 1 MiB
-- commonAnnotations wrote 200 MiB. An event's envelope now holds its own
-- fields and names its body; together they are the evidence of what the
-- provider sent.
CREATE TABLE source_bodies (
    id uuid PRIMARY KEY,
    project_id text NOT NULL,
    provider text NOT NULL,
    fields jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- NULL for events recorded one at a time (RecordAlertEvent, heartbeats),
-- whose envelope keeps its own payload, and for every row written before this.
ALTER TABLE events ADD COLUMN source_body_id uuid REFERENCES source_bodies (id);
CREATE INDEX events_source_body ON events (source_body_id) WHERE source_body_id IS NOT NULL;
