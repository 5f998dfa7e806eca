-- How much of the catalog the evaluation reaches, per source, library and dataset: how many models the
-- evaluability rule admits (catalog.evaluability), how many we evaluated (any computed result), how many
-- failed at their current revision (results.evaluation_failures), and the commonest reason a model is
-- not evaluable (the fixed phrase before the reason's first ':').
CREATE OR REPLACE VIEW analytics.evaluation_coverage AS
WITH computed AS (
    SELECT DISTINCT model_id FROM (
        SELECT model_id FROM results.task_accuracy WHERE origin = 'computed'
        UNION ALL SELECT model_id FROM results.model_stealing WHERE origin = 'computed'
        UNION ALL SELECT model_id FROM results.membership_inference WHERE origin = 'computed'
        UNION ALL SELECT model_id FROM results.adversarial WHERE origin = 'computed'
        UNION ALL SELECT model_id FROM results.backdoor_detection WHERE origin = 'computed'
    )
),
failed AS (
    SELECT DISTINCT f.model_id
    FROM results.evaluation_failures f
    JOIN catalog.models m USING (model_id)
    WHERE f.revision IS NULL OR m.revision IS NULL OR f.revision = m.revision
),
per_model AS (
    SELECT m.source, m.library, m.dataset, e.model_id, e.evaluable,
           trim(split_part(split_part(e.reason, ':', 1), ' (', 1)) AS reason_kind,
           c.model_id IS NOT NULL AS evaluated, f.model_id IS NOT NULL AS failed
    FROM catalog.evaluability e
    JOIN catalog.models m USING (model_id)
    LEFT JOIN computed c USING (model_id)
    LEFT JOIN failed f USING (model_id)
),
reasons AS (
    SELECT source, library, dataset, reason_kind,
           row_number() OVER (PARTITION BY source, library, dataset ORDER BY count(*) DESC, reason_kind) AS rank
    FROM per_model
    WHERE reason_kind IS NOT NULL
    GROUP BY source, library, dataset, reason_kind
)
SELECT p.source, p.library, p.dataset,
       count(*) AS n_models,
       count(*) FILTER (WHERE p.evaluable) AS n_evaluable,
       count(*) FILTER (WHERE p.evaluated) AS n_evaluated,
       count(*) FILTER (WHERE p.failed) AS n_failed,
       any_value(r.reason_kind) AS top_reason
FROM per_model p
LEFT JOIN reasons r ON r.source = p.source AND r.library IS NOT DISTINCT FROM p.library
                   AND r.dataset IS NOT DISTINCT FROM p.dataset AND r.rank = 1
GROUP BY p.source, p.library, p.dataset
ORDER BY n_models DESC, p.source, p.library, p.dataset;
