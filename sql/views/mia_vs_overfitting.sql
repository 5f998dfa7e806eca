-- Membership inference against overfitting: per dataset, purpose and origin, how the train-test
-- gap relates to the AUC of the modified-entropy and correctness attacks.
-- Over the points of analytics.mia_points (one per model and origin); each correlation uses the models
-- that have that AUC and is NULL below 3 of them.
CREATE OR REPLACE VIEW analytics.mia_vs_overfitting AS
SELECT
    dataset,
    purpose,
    origin,
    count(*) AS n_models,
    analytics.pearson_r(overfit_gap, m_entropy_auc) AS pearson_r_m_entropy,
    analytics.pearson_r(overfit_gap, correctness_auc) AS pearson_r_correctness,
    avg(overfit_gap) AS mean_overfit_gap,
    avg(m_entropy_auc) AS mean_m_entropy_auc,
    avg(correctness_auc) AS mean_correctness_auc
FROM analytics.mia_points
GROUP BY dataset, purpose, origin
ORDER BY dataset NULLS LAST, purpose NULLS LAST, origin;
