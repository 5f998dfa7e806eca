-- Membership inference against overfitting: per dataset, purpose and origin, how the train-test
-- gap relates to the AUC of the modified-entropy and correctness attacks.
-- One point per model: its mean overfit gap (train - test accuracy where the gap is not stored) and
-- its mean AUC per attack, all of the same origin. Models without a gap or without either AUC are
-- left out; each correlation uses the models that have that AUC and is NULL below 3 of them.
CREATE OR REPLACE VIEW analytics.mia_vs_overfitting AS
WITH gap AS (
    SELECT model_id, origin, any_value(dataset) AS dataset,
           avg(coalesce(overfit_gap, train_accuracy - test_accuracy)) AS overfit_gap
    FROM results.task_accuracy
    WHERE coalesce(overfit_gap, train_accuracy - test_accuracy) IS NOT NULL
    GROUP BY model_id, origin
),
auc AS (
    SELECT model_id, origin, any_value(dataset) AS dataset,
           avg(auc) FILTER (WHERE analytics.mia_attack_kind(attack) = 'm_entropy') AS m_entropy_auc,
           avg(auc) FILTER (WHERE analytics.mia_attack_kind(attack) = 'correctness') AS correctness_auc
    FROM results.membership_inference
    WHERE auc IS NOT NULL
    GROUP BY model_id, origin
),
per_model AS (
    SELECT g.model_id, g.origin,
           coalesce(a.dataset, g.dataset, m.dataset) AS dataset,
           m.purpose,
           g.overfit_gap, a.m_entropy_auc, a.correctness_auc
    FROM gap g
    JOIN auc a USING (model_id, origin)
    LEFT JOIN catalog.models m USING (model_id)
    WHERE a.m_entropy_auc IS NOT NULL OR a.correctness_auc IS NOT NULL
)
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
FROM per_model
GROUP BY dataset, purpose, origin
ORDER BY dataset NULLS LAST, purpose NULLS LAST, origin;
