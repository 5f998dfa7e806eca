-- The catalog: one row per model, rebuilt per source from the lake's raw records.
-- Column names are a contract (docs/quality_views_search.md lists the rules they keep); fractions are in [0, 1].
CREATE TABLE IF NOT EXISTS catalog.models (
    model_id       VARCHAR PRIMARY KEY,   -- '<source>:<native id>'
    source         VARCHAR NOT NULL,
    name           VARCHAR NOT NULL,
    revision       VARCHAR,               -- Hub sha, or the version of the registry that shipped it
    architecture   VARCHAR,               -- e.g. resnet50d
    model_type     VARCHAR,               -- architecture family, e.g. resnet
    dataset        VARCHAR,               -- canonical dataset id, NULL when unknown
    data_category  VARCHAR,               -- natural, web, medical, digit, ...
    num_classes    INTEGER,               -- NULL for heads-free feature extractors
    input_size     INTEGER,               -- side of the square input in pixels
    library        VARCHAR,
    license        VARCHAR,
    paper_id       VARCHAR,               -- arXiv id without version, e.g. 2110.00476
    purpose        VARCHAR,               -- benchmark, security, other; NULL until annotated
    weights_url    VARCHAR,
    first_seen_at  TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    -- filled by the sources that know them (Hugging Face, Kaggle, SecurityNet, the demo zoo)
    created_at        TIMESTAMPTZ,        -- NULL when unknown (never the Hub's 2022-03-02 floor date)
    last_modified     TIMESTAMPTZ,
    downloads         BIGINT,
    likes             BIGINT,
    reported_accuracy DOUBLE,             -- top-1 accuracy the publisher reports, a fraction
    base_model        VARCHAR,
    has_safetensors   BOOLEAN,
    known_backdoor    BOOLEAN             -- TRUE only where the publisher planted one (demo zoo)
);

-- Rows a rule refused, with the rule and the reason; nothing is dropped silently.
CREATE TABLE IF NOT EXISTS catalog.quarantine (
    table_name  VARCHAR NOT NULL,
    row_key     VARCHAR NOT NULL,
    rule        VARCHAR NOT NULL,
    detail      VARCHAR,
    detected_at TIMESTAMPTZ NOT NULL
);
