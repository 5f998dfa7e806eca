-- Which catalog models the evaluation can load, and why not the others (sn_lake/evaluate/evaluability.py).
-- Rebuilt with the catalog; a model that failed anyway at its current revision shows that failure's reason.
CREATE TABLE IF NOT EXISTS catalog.evaluability (
    model_id     VARCHAR PRIMARY KEY,
    revision     VARCHAR,
    evaluable    BOOLEAN NOT NULL,
    reason       VARCHAR,             -- NULL when evaluable; starts with a fixed phrase ("no dataset", ...)
    loader       VARCHAR,             -- timm, transformers; NULL when no loader fits
    dataset_repo VARCHAR,             -- the Hub dataset repo (or scikit-learn:digits) evaluation data comes from
    checked_at   TIMESTAMPTZ NOT NULL
);

-- Evaluations that failed after the rule let them through: one row per model and family (the latest).
CREATE TABLE IF NOT EXISTS results.evaluation_failures (
    model_id  VARCHAR NOT NULL,
    revision  VARCHAR,
    family    VARCHAR NOT NULL,
    reason    VARCHAR NOT NULL,
    failed_at TIMESTAMPTZ
);
ALTER TABLE catalog.models ADD COLUMN IF NOT EXISTS dataset_note VARCHAR;  -- why a declared dataset is NULL (imagefolder)
