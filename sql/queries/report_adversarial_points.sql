-- `sn-lake report`, the adversarial figures: one point per (model, origin, setting, epsilon) of
-- analytics.adversarial_points whose setting matches the parameter (e.g. 'white%'), its clean accuracy (x)
-- against its largest accuracy drop (y). The report labels each epsilon and makes it a panel.
SELECT epsilon, origin || ' · ' || setting || ' · ' || coalesce(dataset, 'unknown') AS series,
       clean_accuracy AS x, accuracy_drop AS y
FROM analytics.adversarial_points
WHERE clean_accuracy IS NOT NULL AND accuracy_drop IS NOT NULL AND setting LIKE ?
ORDER BY epsilon NULLS FIRST, series, model_id
