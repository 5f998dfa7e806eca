-- One row per finished crawl, copied from the lake's _crawl.json manifests when the catalog is built.
CREATE TABLE IF NOT EXISTS raw.crawls (
    source      VARCHAR NOT NULL,
    crawl_id    VARCHAR NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    n_records   BIGINT NOT NULL,
    n_steps     BIGINT NOT NULL,
    PRIMARY KEY (source, crawl_id)
);
