-- How many models the catalog holds, by source, purpose and data category, with how many of them
-- have a dataset, a paper and loadable weights (analytics.has_loadable_weights), how many we evaluated or the study published
-- figures for, and the source's last finished crawl. A source that was crawled but yielded no
-- catalog rows still appears, with n_models = 0.
CREATE OR REPLACE VIEW analytics.catalog_summary AS
WITH evaluated AS (
    SELECT model_id, bool_or(origin = 'computed') AS computed, bool_or(origin LIKE 'published:%') AS published
    FROM (
        SELECT model_id, origin FROM results.task_accuracy
        UNION ALL SELECT model_id, origin FROM results.model_stealing
        UNION ALL SELECT model_id, origin FROM results.membership_inference
        UNION ALL SELECT model_id, origin FROM results.adversarial
        UNION ALL SELECT model_id, origin FROM results.backdoor_detection
    )
    GROUP BY model_id
),
per_group AS (
    SELECT
        m.source,
        m.purpose,
        m.data_category,
        count(*) AS n_models,
        count(m.dataset) AS n_with_dataset,
        count(m.paper_id) AS n_with_paper,
        count(*) FILTER (WHERE analytics.has_loadable_weights(m.has_safetensors, m.library, m.weights_url)) AS n_loadable_weights,
        count(*) FILTER (WHERE e.computed) AS n_evaluated,
        count(*) FILTER (WHERE e.published) AS n_published
    FROM catalog.models m
    LEFT JOIN evaluated e USING (model_id)
    GROUP BY m.source, m.purpose, m.data_category
),
crawls AS (
    SELECT source, count(*) AS n_crawls, max(finished_at) AS last_crawl_finished_at
    FROM raw.crawls GROUP BY source
)
SELECT
    coalesce(g.source, c.source) AS source,
    g.purpose,
    g.data_category,
    coalesce(g.n_models, 0) AS n_models,
    coalesce(g.n_with_dataset, 0) AS n_with_dataset,
    coalesce(g.n_with_paper, 0) AS n_with_paper,
    coalesce(g.n_loadable_weights, 0) AS n_loadable_weights,
    coalesce(g.n_evaluated, 0) AS n_evaluated,
    coalesce(g.n_published, 0) AS n_published,
    coalesce(c.n_crawls, 0) AS n_crawls,
    c.last_crawl_finished_at
FROM per_group g
FULL JOIN crawls c ON c.source = g.source
ORDER BY source, n_models DESC, purpose NULLS LAST, data_category NULLS LAST;
