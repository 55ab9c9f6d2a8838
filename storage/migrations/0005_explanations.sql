-- Model artifacts (the uploaded model file of a version, for SHAP explanations). The
-- explanations themselves live in one table per model, explanations_<model_id>, created on
-- first use with an a_<feature> DOUBLE column per explained feature (see storage.explanations).
-- IF NOT EXISTS: a database rewound to an older schema version (as tests do to replay a
-- migration) may still hold this table.
CREATE TABLE IF NOT EXISTS model_artifacts (
    model_id INTEGER NOT NULL,
    version VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    path VARCHAR NOT NULL,         -- relative to the data directory
    size_bytes BIGINT NOT NULL,
    estimator VARCHAR NOT NULL,    -- e.g. "Pipeline(ColumnTransformer, GradientBoostingClassifier)"
    explainer VARCHAR NOT NULL,    -- 'tree' | 'linear' | 'permutation'
    units VARCHAR NOT NULL,        -- 'log-odds' | 'probability' | 'raw'
    uploaded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model_id, version)
);
