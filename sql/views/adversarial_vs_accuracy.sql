-- Adversarial fragility against accuracy: per dataset, attack setting (white-box, transfer,
-- query-based, ...), epsilon and origin, how clean accuracy relates to the accuracy lost under attack.
-- One point per model: its mean clean accuracy and its worst-case drop over the attacks of that
-- setting and epsilon (the drop is clean - robust accuracy where it is not stored), as robust
-- accuracy is usually reported. The correlation is NULL below 3 models.
CREATE OR REPLACE VIEW analytics.adversarial_vs_accuracy AS
WITH attacked AS (
    -- a row without a dataset takes its model's catalog dataset (the join only sees those rows)
    SELECT * FROM results.adversarial WHERE dataset IS NOT NULL
    UNION ALL
    SELECT r.* REPLACE (m.dataset AS dataset)
    FROM (SELECT * FROM results.adversarial WHERE dataset IS NULL) r
    LEFT JOIN catalog.models m USING (model_id)
),
per_model AS (
    SELECT
        dataset, setting, epsilon, origin, model_id,
        avg(clean_accuracy) AS clean_accuracy,
        max(coalesce(accuracy_drop, clean_accuracy - robust_accuracy)) AS accuracy_drop
    FROM attacked
    GROUP BY dataset, setting, epsilon, origin, model_id
)
SELECT
    dataset,
    setting,
    epsilon,
    origin,
    count(DISTINCT model_id) AS n_models,
    analytics.pearson_r(clean_accuracy, accuracy_drop) AS pearson_r,
    avg(clean_accuracy) AS mean_clean_accuracy,
    avg(accuracy_drop) AS mean_accuracy_drop
FROM per_model
GROUP BY dataset, setting, epsilon, origin
ORDER BY dataset NULLS LAST, setting, epsilon NULLS FIRST, origin;
