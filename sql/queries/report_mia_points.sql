-- `sn-lake report`, the membership-inference figure: one point per (model, origin, attack kind) of
-- analytics.mia_points, its overfitting gap (x) against the attack's AUC (y).
SELECT panel, series, x, y FROM (
    SELECT model_id, dataset AS panel, origin || ' · M-entropy' AS series, overfit_gap AS x, m_entropy_auc AS y
    FROM analytics.mia_points WHERE m_entropy_auc IS NOT NULL
    UNION ALL
    SELECT model_id, dataset AS panel, origin || ' · correctness' AS series, overfit_gap AS x, correctness_auc AS y
    FROM analytics.mia_points WHERE correctness_auc IS NOT NULL
)
ORDER BY panel, series, model_id
