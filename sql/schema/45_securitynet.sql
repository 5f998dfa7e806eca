-- The SecurityNet database table as its annotators state it: one row per table row (kept or not),
-- written by sn_lake/catalog/securitynet.py. `in_catalog` is FALSE for rows a rule kept out of
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
