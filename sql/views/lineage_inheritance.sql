-- What children inherit from their parent (contract): per parent in catalog.model_tree, evaluation
-- family, metric and variant (setting, attack or detector, epsilon), the parent's own value beside its
-- children's, from our own evaluations (origin 'computed') where the parent and at least one direct
-- child were measured alike. A model's value is the mean over its runs; Neural Cleanse's verdict is
-- its latest run's, as 1.0 (flagged) or 0.0, so mean_child_metric is the share of children flagged.
--   Are the fine-tunes of a flagged model flagged too?
--     SELECT * FROM analytics.lineage_inheritance WHERE family = 'backdoor_detection' AND parent_metric = 1
--   Do children lose robustness?
--     SELECT * FROM analytics.lineage_inheritance WHERE metric = 'robust_accuracy' ORDER BY mean_change
CREATE OR REPLACE VIEW analytics.lineage_inheritance AS
WITH metrics AS (
    SELECT model_id, 'task_accuracy' AS family, 'test_accuracy' AS metric, CAST(NULL AS VARCHAR) AS setting,
           CAST(NULL AS VARCHAR) AS attack, CAST(NULL AS DOUBLE) AS epsilon, avg(test_accuracy) AS value
    FROM results.task_accuracy
    WHERE origin = 'computed' AND test_accuracy IS NOT NULL
    GROUP BY model_id
    UNION ALL
    SELECT model_id, 'adversarial', 'robust_accuracy', setting, attack, epsilon, avg(robust_accuracy)
    FROM results.adversarial
    WHERE origin = 'computed' AND robust_accuracy IS NOT NULL
    GROUP BY model_id, setting, attack, epsilon
    UNION ALL
    SELECT model_id, 'backdoor_detection', 'flagged', NULL, detector, NULL,
           CAST(arg_max(flagged, coalesce(computed_at, TIMESTAMPTZ '1970-01-01 00:00:00+00')) AS DOUBLE)
    FROM results.backdoor_detection
    WHERE origin = 'computed' AND flagged IS NOT NULL
    GROUP BY model_id, detector
    UNION ALL
    SELECT model_id, 'membership_inference', 'auc', NULL, attack, NULL, avg(auc)
    FROM results.membership_inference
    WHERE origin = 'computed' AND auc IS NOT NULL
    GROUP BY model_id, attack
    UNION ALL
    SELECT model_id, 'model_stealing', 'agreement', NULL, NULL, NULL, avg(agreement)
    FROM results.model_stealing
    WHERE origin = 'computed' AND agreement IS NOT NULL
    GROUP BY model_id
),
pairs AS (
    SELECT t.parent_id, t.child_id, p.family, p.metric, p.setting, p.attack, p.epsilon,
           p.value AS parent_value, c.value AS child_value
    FROM catalog.model_tree t
    JOIN metrics p ON p.model_id = t.parent_id
    JOIN metrics c ON c.model_id = t.child_id
        AND c.family = p.family AND c.metric = p.metric
        AND c.setting IS NOT DISTINCT FROM p.setting
        AND c.attack IS NOT DISTINCT FROM p.attack
        AND c.epsilon IS NOT DISTINCT FROM p.epsilon
    WHERE t.child_id <> t.parent_id
)
SELECT
    parent_id,
    family,
    metric,
    setting,
    attack,
    epsilon,
    count(DISTINCT child_id) AS n_children,
    any_value(parent_value) AS parent_metric,
    avg(child_value) AS mean_child_metric,
    avg(child_value - parent_value) AS mean_change,
    min(child_value) AS min_child_metric,
    max(child_value) AS max_child_metric,
    count(*) FILTER (WHERE child_value < parent_value) AS n_children_lower,
    count(*) FILTER (WHERE child_value > parent_value) AS n_children_higher
FROM pairs
GROUP BY parent_id, family, metric, setting, attack, epsilon
ORDER BY parent_id, family, metric, setting NULLS FIRST, attack NULLS FIRST, epsilon NULLS FIRST;
