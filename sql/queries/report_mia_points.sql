-- `sn-lake report`, the membership-inference figure: one point per (model, origin, attack kind), its
-- overfitting gap (x) against the attack's AUC (y), paired as analytics.mia_vs_overfitting pairs them.
WITH gap AS (
    SELECT model_id, origin, any_value(dataset) AS dataset,
           avg(coalesce(overfit_gap, train_accuracy - test_accuracy)) AS x
    FROM results.task_accuracy
    WHERE coalesce(overfit_gap, train_accuracy - test_accuracy) IS NOT NULL
    GROUP BY model_id, origin
),
auc AS (
    SELECT model_id, origin, any_value(dataset) AS dataset,
           avg(auc) FILTER (WHERE analytics.mia_attack_kind(attack) = 'm_entropy') AS m_entropy,
           avg(auc) FILTER (WHERE analytics.mia_attack_kind(attack) = 'correctness') AS correctness
    FROM results.membership_inference
    WHERE auc IS NOT NULL
    GROUP BY model_id, origin
),
per_model AS (
    SELECT g.model_id, coalesce(a.dataset, g.dataset, m.dataset) AS panel, g.origin, g.x, a.m_entropy, a.correctness
    FROM gap g
    JOIN auc a USING (model_id, origin)
    LEFT JOIN catalog.models m USING (model_id)
)
SELECT panel, series, x, y FROM (
    SELECT model_id, panel, origin || ' · M-entropy' AS series, x, m_entropy AS y
    FROM per_model WHERE m_entropy IS NOT NULL
    UNION ALL
    SELECT model_id, panel, origin || ' · correctness' AS series, x, correctness AS y
    FROM per_model WHERE correctness IS NOT NULL
)
ORDER BY panel, series, model_id
