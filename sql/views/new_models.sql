-- What appeared since a date: every catalog model with when a crawl first saw it, newest first.
--   SELECT * FROM analytics.new_models WHERE first_seen_at >= TIMESTAMPTZ '2026-11-01';
-- in_latest_crawl: first seen after the source's previous finished crawl, i.e. new in its latest one.
CREATE OR REPLACE VIEW analytics.new_models AS
WITH previous_crawl AS (
    SELECT source, max(finished_at) FILTER (WHERE rank > 1) AS finished_at
    FROM (SELECT source, finished_at, row_number() OVER (PARTITION BY source ORDER BY finished_at DESC) AS rank FROM raw.crawls)
    GROUP BY source
)
SELECT
    m.model_id,
    m.source,
    m.first_seen_at,
    m.last_seen_at,
    m.name,
    m.architecture,
    m.model_type,
    m.dataset,
    m.data_category,
    m.purpose,
    m.license,
    m.created_at,
    m.weights_url,
    m.first_seen_at > coalesce(c.finished_at, TIMESTAMPTZ '-infinity') AS in_latest_crawl
FROM catalog.models m
LEFT JOIN previous_crawl c USING (source)
ORDER BY m.first_seen_at DESC, m.model_id;
