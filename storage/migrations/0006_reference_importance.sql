-- Mean |SHAP| per feature of a reference sample, explained once per model artifact and
-- reference: the baseline ranking attribution drift is measured against.
CREATE TABLE IF NOT EXISTS reference_importance (
    model_id INTEGER NOT NULL,
    sha256 VARCHAR NOT NULL,
    reference_id INTEGER NOT NULL,
    feature VARCHAR NOT NULL,
    mean_abs DOUBLE NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model_id, sha256, reference_id, feature)
);
