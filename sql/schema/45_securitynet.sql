-- The SecurityNet database table as its annotators state it: one row per table row (kept or not),
-- written by sn_lake/sources/securitynet.py. `in_catalog` is FALSE for rows a rule kept out of
-- catalog.models; catalog.quarantine holds the rule and reason. Sentinel 0 / nan values are NULL here.
CREATE TABLE IF NOT EXISTS catalog.securitynet_labels (
    row_key          VARCHAR PRIMARY KEY,   -- '<table>/<data name>/<model name>[~n]' or 'new/<title>'
    model_id         VARCHAR NOT NULL,      -- 'securitynet:' || row_key
    in_catalog       BOOLEAN NOT NULL,
    table_name       VARCHAR NOT NULL,      -- benchmark, security, new
    line             INTEGER NOT NULL,      -- line of the markdown file
    model_name       VARCHAR,
    title            VARCHAR,               -- new-models table only
    model_type       VARCHAR,               -- as stated, e.g. 'wrn'
    data_name        VARCHAR,               -- as stated, e.g. 'CIFAR-10'
    data_category    VARCHAR,
    num_classes      INTEGER,
    training_size    BIGINT,
    venue            VARCHAR,               -- as stated, e.g. 'NeurIPS'
    venue_normalized VARCHAR,               -- sn_lake.annotate.venues.normalize_venue(venue)
    venue_type       VARCHAR,               -- as stated: CV, ML, Security, NLP, arXiv, other
    year             INTEGER,
    countries        VARCHAR,               -- as stated, e.g. 'China, USA'
    country_codes    VARCHAR[],             -- sorted ISO 3166-1 alpha-2 codes, NULL when a name is unknown
    n_authors        INTEGER,
    purpose          VARCHAR,               -- as stated: benchmark, security, other (NULL in the new-models table)
    paper_url        VARCHAR,
    paper_id         VARCHAR,               -- arXiv id from paper_url, NULL for other links
    weights_url      VARCHAR,
    note             VARCHAR,
    table_sha256     VARCHAR NOT NULL       -- the table version the labels come from
);

-- Resolved paper metadata. The paper-metadata source owns catalog.papers and catalog.paper_candidates
-- (sql/schema/50_papers.sql, which must add any further columns with ALTER TABLE ... ADD COLUMN IF NOT
-- EXISTS); this file only makes sure they exist with their contract columns, so
-- analytics.annotation_agreement applies on a warehouse without that source.
CREATE TABLE IF NOT EXISTS catalog.papers (
    paper_id       VARCHAR PRIMARY KEY,     -- arXiv id without version
    title          VARCHAR,
    year           INTEGER,
    venue          VARCHAR,                 -- normalized: sn_lake.annotate.venues.normalize_venue
    venue_type     VARCHAR,                 -- CV, ML, Security, NLP, arXiv, other
    authors        VARCHAR[],
    n_authors      INTEGER,
    countries      VARCHAR[],               -- sorted ISO codes: sn_lake.annotate.countries.normalize_countries
    publisher_type VARCHAR                  -- academia, industry, mixed
);
-- The purpose our rule derives from the paper (sn_lake.annotate.purpose.paper_purpose).
ALTER TABLE catalog.papers ADD COLUMN IF NOT EXISTS purpose VARCHAR;

CREATE TABLE IF NOT EXISTS catalog.paper_candidates (
    paper_id       VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,        -- dblp, semantic_scholar, paperswithcode, arxiv, openalex
    title          VARCHAR,
    year           INTEGER,
    venue          VARCHAR,
    venue_type     VARCHAR,
    authors        VARCHAR[],
    n_authors      INTEGER,
    countries      VARCHAR[],
    publisher_type VARCHAR
);
