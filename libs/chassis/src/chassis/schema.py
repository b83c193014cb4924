"""The tables every service has: its event store, the relay checkpoint, the inbox, dead letters."""

from __future__ import annotations

CHASSIS_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction: the relay reads only below the oldest transaction still in flight,
    -- so an event whose transaction commits late is never skipped (P2).
    tx_id          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id       uuid NOT NULL UNIQUE,
    stream_id      text NOT NULL,
    stream_version integer NOT NULL CHECK (stream_version >= 1),
    event_type     text NOT NULL,
    schema_version integer NOT NULL,
    integrator_id  text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    correlation_id uuid NOT NULL,
    causation_id   uuid,
    payload        jsonb NOT NULL,
    trace_context  jsonb NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (stream_id, stream_version)
);
CREATE INDEX IF NOT EXISTS events_by_tx ON events (tx_id, position);
CREATE INDEX IF NOT EXISTS events_by_integrator ON events (integrator_id, position);

-- Append-only (P1): a correction is a new event, never an UPDATE or a DELETE.
CREATE OR REPLACE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event store is append-only (% refused)', TG_OP;
END $$;
CREATE OR REPLACE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE OR REPLACE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

-- A unit of work writes its events and its projection rows in one statement, each row guarded by
-- the position it was read at: a row another writer moved meanwhile aborts the whole statement with
-- a serialization failure (40001), which the chassis reports as a ConcurrencyConflict.
CREATE OR REPLACE FUNCTION chassis_concurrent_update(what text) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'concurrent update of %', what USING ERRCODE = 'serialization_failure';
END $$;

CREATE TABLE IF NOT EXISTS relay_checkpoint (
    name       text PRIMARY KEY,
    tx_id      xid8 NOT NULL,
    position   bigint NOT NULL,
    -- How many messages this relay has put on the topic: if the broker reports fewer, it lost its data.
    published  bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE IF NOT EXISTS dead_letters (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer     text NOT NULL,
    topic        text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    message_key  bytea,
    message_value bytea,
    headers      jsonb NOT NULL DEFAULT '{}'::jsonb,
    reason       text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz,
    UNIQUE (consumer, topic, kafka_partition, kafka_offset)
);
-- A dead letter keeps its headers as raw bytes, names and values side by side (a NULL value: a header
-- without one), so no content can make keeping it fail: `headers` (jsonb, refusing NUL) is what rows
-- recorded before kept, read when `header_names` is NULL. A row whose bytes could not be kept at all
-- has neither (its reason says why): its coordinates still name the message on its topic.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS header_names bytea[];
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS header_values bytea[];

CREATE TABLE IF NOT EXISTS projection_state (
    name        text PRIMARY KEY,
    rebuilt_at  timestamptz,
    events      bigint NOT NULL DEFAULT 0
);
"""
