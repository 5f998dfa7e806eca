-- The study's model-stealing figures: per dataset, purpose and origin, how a model's test accuracy
-- relates to the accuracy of a surrogate stolen from it (and the surrogate's agreement with it), over the
-- points of analytics.stealing_points (one per model and origin). Correlations are NULL below 3 models.
CREATE OR REPLACE VIEW analytics.stealing_vs_accuracy AS
WITH ranked AS (
    SELECT *,
           analytics.spearman_rank(test_accuracy, (dataset, purpose, origin)) AS rank_test,
           analytics.spearman_rank(stealing_accuracy, (dataset, purpose, origin)) AS rank_stealing
    FROM analytics.stealing_points
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
