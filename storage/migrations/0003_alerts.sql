-- Alert state that must survive a restart: one row per (rule, model) instance, the history of
-- state changes, the notification outbox with its delivery attempts, silences, and the rules
-- saved from the dashboard editor. model is '' for system rules (it is part of a primary key).
-- "at" is a keyword in DuckDB 2.0 (`SELECT at FROM t` is a syntax error): always quote it.
-- IF NOT EXISTS: a database rewound to an older schema version (as tests/storage/test_store.py
-- does to replay migration 2) may still hold these tables; re-running must not fail.
CREATE TABLE IF NOT EXISTS alert_instances (
    rule VARCHAR NOT NULL,
    model VARCHAR NOT NULL DEFAULT '',
    state VARCHAR NOT NULL,
    value DOUBLE,
    active_since TIMESTAMPTZ,
    fired_at TIMESTAMPTZ,
    resolved_at TIMESTAMPTZ,
    last_change TIMESTAMPTZ NOT NULL,
    last_notified_at TIMESTAMPTZ,
    last_notified_status VARCHAR,
    PRIMARY KEY (rule, model)
);

CREATE TABLE IF NOT EXISTS alert_transitions (
    "at" TIMESTAMPTZ NOT NULL,
    rule VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    from_state VARCHAR NOT NULL,
    to_state VARCHAR NOT NULL,
    value DOUBLE,
    silenced BOOLEAN
);

CREATE SEQUENCE IF NOT EXISTS alert_outbox_ids START 1;

-- One row per notification and channel; done_at is set once it is delivered, superseded by a
-- newer state of the same alert, or dropped after the last retry.
CREATE TABLE IF NOT EXISTS alert_outbox (
    id BIGINT PRIMARY KEY DEFAULT nextval('alert_outbox_ids'),
    group_key VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    payload VARCHAR NOT NULL,
    fired_at TIMESTAMPTZ,
    queued_at TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    done_at TIMESTAMPTZ,
    outcome VARCHAR,
    last_error VARCHAR
);

CREATE TABLE IF NOT EXISTS alert_deliveries (
    "at" TIMESTAMPTZ NOT NULL,
    outbox_id BIGINT NOT NULL,
    channel VARCHAR NOT NULL,
    group_key VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    ok BOOLEAN NOT NULL,
    error VARCHAR
);

CREATE TABLE IF NOT EXISTS silences (
    id VARCHAR PRIMARY KEY,
    rule VARCHAR,
    model VARCHAR,
    labels VARCHAR,
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL,
    author VARCHAR NOT NULL,
    comment VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expired_at TIMESTAMPTZ
);

-- Rules saved from the dashboard editor (config-file rules are not stored): definition is the
-- JSON text of the rule's TOML table.
CREATE TABLE IF NOT EXISTS alert_rules (
    name VARCHAR PRIMARY KEY,
    definition VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by VARCHAR
);

-- Channels added in the dashboard (config-file channels are not stored): definition is the
-- JSON text of the channel's TOML table. Secrets are never stored, only the names of the
-- environment variables or files that hold them.
CREATE TABLE IF NOT EXISTS alert_channels (
    name VARCHAR PRIMARY KEY,
    definition VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by VARCHAR
);
