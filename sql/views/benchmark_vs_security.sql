-- Benchmark against security models: per dataset and purpose, the mean accuracy, overfitting,
-- stealability and membership leakage of the models (computed and published figures together).
-- One point per model: each metric averaged over that model's rows of every origin; a model counts
-- when it has at least one of the four metrics.
CREATE OR REPLACE VIEW analytics.benchmark_vs_security AS
WITH task AS (
    SELECT model_id, any_value(dataset) AS dataset, avg(test_accuracy) AS test_accuracy,
           avg(coalesce(overfit_gap, train_accuracy - test_accuracy)) AS overfit_gap
    FROM results.task_accuracy GROUP BY model_id
),
stealing AS (
    SELECT model_id, any_value(dataset) AS dataset, avg(stealing_accuracy) AS stealing_accuracy
    FROM results.model_stealing GROUP BY model_id
),
mia AS (
    SELECT model_id, any_value(dataset) AS dataset, avg(auc) AS m_entropy_auc
    FROM results.membership_inference
    WHERE analytics.mia_attack_kind(attack) = 'm_entropy'
    GROUP BY model_id
),
per_model AS (
    SELECT
        model_id,
        coalesce(t.dataset, s.dataset, i.dataset, m.dataset) AS dataset,
        m.purpose,
        t.test_accuracy, t.overfit_gap, s.stealing_accuracy, i.m_entropy_auc
    FROM task t
    FULL JOIN stealing s USING (model_id)
    FULL JOIN mia i USING (model_id)
    LEFT JOIN catalog.models m USING (model_id)
    WHERE coalesce(t.test_accuracy, t.overfit_gap, s.stealing_accuracy, i.m_entropy_auc) IS NOT NULL
)
SELECT
    dataset,
    purpose,
    count(*) AS n_models,
    avg(test_accuracy) AS mean_test_accuracy,
    avg(overfit_gap) AS mean_overfit_gap,
    avg(stealing_accuracy) AS mean_stealing_accuracy,
    avg(m_entropy_auc) AS mean_m_entropy_auc
FROM per_model
GROUP BY dataset, purpose
ORDER BY dataset NULLS LAST, purpose NULLS LAST;
