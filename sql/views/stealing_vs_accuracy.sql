-- The study's model-stealing figures: per dataset, purpose and origin, how a model's test accuracy
-- relates to the accuracy of a surrogate stolen from it (and the surrogate's agreement with it).
-- One point per model and origin, from its *primary* stealing configuration, the one closest to the
-- study's default attack: query data from the model's own dataset (aux_dataset NULL or equal to the
-- dataset) before other data, the unstated/default surrogate (surrogate_arch NULL) before a named one,
-- probability queries before label-only ones, then the largest query budget. Rows of that one
-- configuration (several seeds, say) are averaged; its mean test accuracy of the same origin is the
-- other coordinate. Only models with both numbers count. Correlations are NULL below 3 models.
CREATE OR REPLACE VIEW analytics.stealing_vs_accuracy AS
WITH configurations AS (
    -- one row per (model, origin, configuration), with its preference: the smallest key wins
    SELECT model_id, origin, any_value(dataset) AS dataset,
           avg(stealing_accuracy) AS stealing_accuracy, avg(agreement) AS agreement,
           {'other_data': NOT (aux_dataset IS NULL OR aux_dataset = any_value(dataset)),
            'named_surrogate': surrogate_arch IS NOT NULL,
            'label_only': coalesce(label_only, false),
            'budget': coalesce(-query_budget, -9223372036854775807),
            'aux': coalesce(aux_dataset, ''),
            'surrogate': coalesce(surrogate_arch, '')} AS preference
    FROM results.model_stealing
    WHERE stealing_accuracy IS NOT NULL
    GROUP BY model_id, origin, aux_dataset, surrogate_arch, label_only, query_budget
),
stealing AS (
    SELECT model_id, origin, any_value(dataset) AS dataset,
           arg_min(stealing_accuracy, preference) AS stealing_accuracy,
           arg_min(agreement, preference) AS agreement
    FROM configurations
    GROUP BY model_id, origin
),
accuracy AS (
    SELECT model_id, origin, any_value(dataset) AS dataset, avg(test_accuracy) AS test_accuracy
    FROM results.task_accuracy
    WHERE test_accuracy IS NOT NULL
    GROUP BY model_id, origin
),
per_model AS (
    SELECT s.model_id, s.origin,
           coalesce(s.dataset, a.dataset, m.dataset) AS dataset,
           m.purpose,
           a.test_accuracy, s.stealing_accuracy, s.agreement
    FROM stealing s
    JOIN accuracy a USING (model_id, origin)
    LEFT JOIN catalog.models m USING (model_id)
),
ranked AS (
    SELECT *,
           analytics.spearman_rank(test_accuracy, (dataset, purpose, origin)) AS rank_test,
           analytics.spearman_rank(stealing_accuracy, (dataset, purpose, origin)) AS rank_stealing
    FROM per_model
)
SELECT
    dataset,
    purpose,
    origin,
    count(*) AS n_models,
    analytics.pearson_r(test_accuracy, stealing_accuracy) AS pearson_r,
    analytics.pearson_r(rank_test, rank_stealing) AS spearman_r,
    avg(test_accuracy) AS mean_test_accuracy,
    avg(stealing_accuracy) AS mean_stealing_accuracy,
    avg(agreement) AS mean_agreement
FROM ranked
GROUP BY dataset, purpose, origin
ORDER BY dataset NULLS LAST, purpose NULLS LAST, origin;
