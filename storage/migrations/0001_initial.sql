-- Models, their features, labels, system samples, rollups and API tokens.
-- Predictions live in one table per model (predictions_<id>), created on registration.
CREATE SEQUENCE model_ids START 1;

CREATE TABLE models (
    id INTEGER PRIMARY KEY DEFAULT nextval('model_ids'),
    name VARCHAR NOT NULL UNIQUE,
    task VARCHAR NOT NULL,
    positive_class VARCHAR,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE model_features (
    model_id INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    column_name VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (model_id, name)
);

CREATE TABLE labels (
    model_id INTEGER NOT NULL,
    event_id VARCHAR NOT NULL,
    label VARCHAR,
    label_value DOUBLE,
    ts TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model_id, event_id)
);

CREATE TABLE system_samples (
    ts TIMESTAMPTZ NOT NULL,
    host VARCHAR NOT NULL,
    cpu_percent DOUBLE,
    load1 DOUBLE,
    load5 DOUBLE,
    load15 DOUBLE,
    mem_used_bytes BIGINT,
    mem_available_bytes BIGINT,
    swap_used_bytes BIGINT,
    swap_percent DOUBLE,
    disk_percent DOUBLE,
    disk_read_bps DOUBLE,
    disk_write_bps DOUBLE,
    net_sent_bps DOUBLE,
    net_recv_bps DOUBLE,
    proc_cpu_percent DOUBLE,
    proc_rss_bytes BIGINT
);

CREATE TABLE gpu_samples (
    ts TIMESTAMPTZ NOT NULL,
    host VARCHAR NOT NULL,
    gpu_index INTEGER NOT NULL,
    name VARCHAR,
    uuid VARCHAR,
    util_percent DOUBLE,
    mem_used_bytes BIGINT,
    mem_total_bytes BIGINT,
    temperature_c DOUBLE,
    power_w DOUBLE
);

-- One row per host and minute: averages of the raw samples, plus the CPU maximum.
CREATE TABLE system_rollup_1m (
    ts TIMESTAMPTZ NOT NULL,
    host VARCHAR NOT NULL,
    samples INTEGER NOT NULL,
    cpu_percent DOUBLE,
    cpu_percent_max DOUBLE,
    load1 DOUBLE,
    load5 DOUBLE,
    load15 DOUBLE,
    mem_used_bytes DOUBLE,
    mem_available_bytes DOUBLE,
    swap_used_bytes DOUBLE,
    swap_percent DOUBLE,
    disk_percent DOUBLE,
    disk_read_bps DOUBLE,
    disk_write_bps DOUBLE,
    net_sent_bps DOUBLE,
    net_recv_bps DOUBLE,
    proc_cpu_percent DOUBLE,
    proc_rss_bytes DOUBLE,
    PRIMARY KEY (ts, host)
);

CREATE TABLE gpu_rollup_1m (
    ts TIMESTAMPTZ NOT NULL,
    host VARCHAR NOT NULL,
    gpu_index INTEGER NOT NULL,
    name VARCHAR,
    samples INTEGER NOT NULL,
    util_percent DOUBLE,
    util_percent_max DOUBLE,
    mem_used_bytes DOUBLE,
    mem_total_bytes DOUBLE,
    temperature_c DOUBLE,
    power_w DOUBLE,
    PRIMARY KEY (ts, host, gpu_index)
);

CREATE TABLE api_tokens (
    token_hash VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
