-- One point per model and origin for the membership-inference figures (analytics.mia_vs_overfitting and
-- `sn-lake report` read it): its mean overfit gap (train - test accuracy where the gap is not stored) and its
-- mean AUC per attack kind, all of the same origin. Models without a gap or without either AUC are left out.
CREATE OR REPLACE VIEW analytics.mia_points AS
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
)
SELECT g.model_id, g.origin,
       coalesce(a.dataset, g.dataset, m.dataset) AS dataset,
       m.purpose,
       g.overfit_gap, a.m_entropy_auc, a.correctness_auc
FROM gap g
JOIN auc a USING (model_id, origin)
LEFT JOIN catalog.models m USING (model_id)
WHERE a.m_entropy_auc IS NOT NULL OR a.correctness_auc IS NOT NULL;
