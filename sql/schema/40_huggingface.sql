-- History of Hugging Face models, rebuilt from the lake's raw listing records at every catalog build,
-- so "what changed since" and "downloads over time" are queries, not re-crawls.

-- One row per (model, revision): when a crawl first saw that sha, and the Hub's lastModified for it.
CREATE TABLE IF NOT EXISTS catalog.model_versions (
    model_id      VARCHAR NOT NULL,       -- 'huggingface:<repo id>'
    revision      VARCHAR NOT NULL,       -- the Hub's commit sha
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_modified TIMESTAMPTZ
);

-- One row per (model, crawl): the counters the listing reported.
CREATE TABLE IF NOT EXISTS catalog.model_stats (
    model_id    VARCHAR NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL,
    downloads   BIGINT,                   -- the Hub's rolling 30-day download count
    likes       BIGINT
);
ALTER TABLE catalog.model_stats ADD COLUMN IF NOT EXISTS crawl_id VARCHAR;
