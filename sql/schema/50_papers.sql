-- Paper metadata for the catalog's paper ids (arXiv ids without version), rebuilt from the lake's
-- API answers (lake/raw/papers/) by sn_lake/catalog/papers.py.
-- catalog.paper_candidates: one row per (paper, API that knows it) with the values that API states;
-- catalog.papers: the values the resolution chain picked, and where each came from.
-- Every schema file is applied on every connection, so these exist whether or not papers were crawled.
CREATE TABLE IF NOT EXISTS catalog.paper_candidates (
    paper_id       VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,        -- arxiv, semantic_scholar, paperswithcode, openalex, dblp
    title          VARCHAR,
    year           INTEGER,
    venue          VARCHAR,                 -- short name (sn_lake.annotate.venues), or the source's text when unknown
    venue_type     VARCHAR,                 -- CV, ML, Security, NLP, arXiv, other
    authors        VARCHAR[],
    n_authors      INTEGER,
    countries      VARCHAR[],               -- sorted ISO codes (OpenAlex only)
    publisher_type VARCHAR                  -- academia, industry, mixed (OpenAlex only)
);
ALTER TABLE catalog.paper_candidates ADD COLUMN IF NOT EXISTS venue_as_written VARCHAR;  -- e.g. 'cvpr-2016-6', 'ICLR (Poster)'
ALTER TABLE catalog.paper_candidates ADD COLUMN IF NOT EXISTS doi VARCHAR;
ALTER TABLE catalog.paper_candidates ADD COLUMN IF NOT EXISTS institution_types VARCHAR;  -- OpenAlex's, comma-joined
ALTER TABLE catalog.paper_candidates ADD COLUMN IF NOT EXISTS request_url VARCHAR;
ALTER TABLE catalog.paper_candidates ADD COLUMN IF NOT EXISTS fetched_at TIMESTAMPTZ;

CREATE TABLE IF NOT EXISTS catalog.papers (
    paper_id       VARCHAR PRIMARY KEY,
    title          VARCHAR,
    year           INTEGER,
    venue          VARCHAR,
    venue_type     VARCHAR,
    authors        VARCHAR[],
    n_authors      INTEGER,
    countries      VARCHAR[],
    publisher_type VARCHAR
);
ALTER TABLE catalog.papers ADD COLUMN IF NOT EXISTS purpose VARCHAR;          -- sn_lake.annotate.purpose.paper_purpose
ALTER TABLE catalog.papers ADD COLUMN IF NOT EXISTS purpose_reason VARCHAR;
ALTER TABLE catalog.papers ADD COLUMN IF NOT EXISTS venue_source VARCHAR;     -- the API the venue came from
ALTER TABLE catalog.papers ADD COLUMN IF NOT EXISTS provenance VARCHAR;       -- JSON: field -> API, e.g. {"year": "dblp"}
ALTER TABLE catalog.papers ADD COLUMN IF NOT EXISTS doi VARCHAR;
ALTER TABLE catalog.papers ADD COLUMN IF NOT EXISTS abstract VARCHAR;
ALTER TABLE catalog.papers ADD COLUMN IF NOT EXISTS sources VARCHAR[];       -- the APIs that know the paper (empty: none)
ALTER TABLE catalog.papers ADD COLUMN IF NOT EXISTS resolved_at TIMESTAMPTZ;
