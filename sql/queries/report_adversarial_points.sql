-- `sn-lake report`, the adversarial figures: one point per (model, origin, setting, epsilon) of the settings
-- matching the parameter (e.g. 'white%'), its clean accuracy (x) against its largest accuracy drop (y), grouped
-- as analytics.adversarial_vs_accuracy groups them. The report labels each epsilon and makes it a panel.
WITH per_model AS (
    SELECT coalesce(r.dataset, any_value(m.dataset)) AS dataset, r.setting, r.epsilon, r.origin, r.model_id,
           avg(r.clean_accuracy) AS x, max(coalesce(r.accuracy_drop, r.clean_accuracy - r.robust_accuracy)) AS y
    FROM results.adversarial r
    LEFT JOIN catalog.models m USING (model_id)
    GROUP BY r.dataset, r.setting, r.epsilon, r.origin, r.model_id
)
SELECT epsilon, origin || ' · ' || setting || ' · ' || coalesce(dataset, 'unknown') AS series, x, y
FROM per_model
WHERE x IS NOT NULL AND y IS NOT NULL AND setting LIKE ?
ORDER BY epsilon NULLS FIRST, series, model_id
