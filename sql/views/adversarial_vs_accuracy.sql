-- Adversarial fragility against accuracy: per dataset, attack setting (white-box, transfer,
-- query-based, ...), epsilon and origin, how clean accuracy relates to the accuracy lost under attack.
-- Over the points of analytics.adversarial_points (one per model, setting and epsilon). The correlation is
-- NULL below 3 models.
CREATE OR REPLACE VIEW analytics.adversarial_vs_accuracy AS
SELECT
    dataset,
    setting,
    epsilon,
    origin,
    count(DISTINCT model_id) AS n_models,
    analytics.pearson_r(clean_accuracy, accuracy_drop) AS pearson_r,
    avg(clean_accuracy) AS mean_clean_accuracy,
    avg(accuracy_drop) AS mean_accuracy_drop
FROM analytics.adversarial_points
GROUP BY dataset, setting, epsilon, origin
ORDER BY dataset NULLS LAST, setting, epsilon NULLS FIRST, origin;
