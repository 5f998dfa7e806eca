-- `sn-lake report`, the model-stealing figure: one point per (model, origin), its test accuracy (x) against
-- the stealing accuracy (y) of its primary stealing configuration, picked as analytics.stealing_vs_accuracy
-- picks it (the model's own data, the default surrogate, probability queries, then the largest budget).
WITH configurations AS (
    SELECT model_id, origin, any_value(dataset) AS dataset, avg(stealing_accuracy) AS stealing_accuracy,
           {'other_data': NOT (aux_dataset IS NULL OR aux_dataset = any_value(dataset)),
            'named_surrogate': surrogate_arch IS NOT NULL,
            'label_only': coalesce(label_only, false),
            'budget': coalesce(-query_budget, -9223372036854775807),
            'aux': coalesce(aux_dataset, ''),
            'surrogate': coalesce(surrogate_arch, '')} AS preference
    FROM results.model_stealing
    WHERE stealing_accuracy IS NOT NULL
    GROUP BY model_id, origin, aux_dataset, surrogate_arch, label_only, query_budget
),
stealing AS (
    SELECT model_id, origin, any_value(dataset) AS dataset, arg_min(stealing_accuracy, preference) AS y
    FROM configurations
    GROUP BY model_id, origin
),
accuracy AS (
    SELECT model_id, origin, any_value(dataset) AS dataset, avg(test_accuracy) AS x
    FROM results.task_accuracy
    WHERE test_accuracy IS NOT NULL
    GROUP BY model_id, origin
)
SELECT coalesce(s.dataset, a.dataset, m.dataset) AS panel, s.origin AS series, a.x, s.y
FROM stealing s
JOIN accuracy a USING (model_id, origin)
LEFT JOIN catalog.models m USING (model_id)
ORDER BY panel, series, s.model_id
