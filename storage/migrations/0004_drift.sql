-- Reference data sets, stored drift and data-quality results per window, and ingest
-- rejections per hour. IF NOT EXISTS: a database rewound to an older schema version (as
-- tests/storage/test_store.py does to replay migration 2) may still hold these tables.
CREATE SEQUENCE IF NOT EXISTS reference_ids START 1;

-- One row per reference; its rows live in their own table reference_<id> with columns
-- f_<feature> (typed as the model's feature kind), prediction (the model's prediction type),
-- label VARCHAR and label_value DOUBLE (see storage.references).
CREATE TABLE IF NOT EXISTS model_references (
    id INTEGER PRIMARY KEY DEFAULT nextval('reference_ids'),
    model_id INTEGER NOT NULL,
    version VARCHAR,               -- the version it is for; NULL = every version
    source VARCHAR NOT NULL,       -- 'upload' | 'range'
    description VARCHAR NOT NULL,  -- file name or "predictions <start> to <end>"
    range_start TIMESTAMPTZ,
    range_end TIMESTAMPTZ,
    range_version VARCHAR,
    rows BIGINT NOT NULL,
    labelled BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS drift_windows (
    model_id INTEGER NOT NULL,
    version VARCHAR NOT NULL,      -- '*' = every version
    granularity VARCHAR NOT NULL,  -- '1h' | '1d'
    window_start TIMESTAMPTZ NOT NULL,
    window_end TIMESTAMPTZ NOT NULL,
    reference_id INTEGER NOT NULL,
    rows BIGINT NOT NULL,
    labelled BIGINT NOT NULL,
    n_tested INTEGER NOT NULL,
    n_drifted INTEGER NOT NULL,
    drift_share DOUBLE NOT NULL,
    dataset_drift BOOLEAN NOT NULL,
    multivariate_auc DOUBLE,
    multivariate_drifted BOOLEAN,
    multivariate_top VARCHAR,      -- JSON [[feature, importance], ...]
    computed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model_id, version, granularity, window_start)
);

CREATE TABLE IF NOT EXISTS drift_results (
    model_id INTEGER NOT NULL,
    version VARCHAR NOT NULL,
    granularity VARCHAR NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    role VARCHAR NOT NULL,         -- 'feature' | 'prediction' | 'target'
    feature VARCHAR NOT NULL,      -- feature name; 'prediction' / 'target' for those roles
    kind VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    score DOUBLE,
    threshold DOUBLE NOT NULL,
    drifted BOOLEAN NOT NULL,
    PRIMARY KEY (model_id, version, granularity, window_start, role, feature)
);

CREATE TABLE IF NOT EXISTS quality_results (
    model_id INTEGER NOT NULL,
    version VARCHAR NOT NULL,
    granularity VARCHAR NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    feature VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    missing BIGINT NOT NULL,
    nan BIGINT NOT NULL,
    inf BIGINT NOT NULL,
    out_of_range BIGINT NOT NULL,
    unseen BIGINT NOT NULL,
    constant BOOLEAN NOT NULL,
    PRIMARY KEY (model_id, version, granularity, window_start, feature)
);

-- Records refused at ingest, counted per model name (as sent: it may be unregistered or
-- invalid), hour and reason.
CREATE TABLE IF NOT EXISTS ingest_rejections (
    model VARCHAR NOT NULL,
    hour TIMESTAMPTZ NOT NULL,
    reason VARCHAR NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (model, hour, reason)
);
