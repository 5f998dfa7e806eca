-- One point per model and origin for the study's model-stealing figures (analytics.stealing_vs_accuracy and
-- `sn-lake report` read it): the model's mean test accuracy and the stealing accuracy and agreement of its
-- *primary* stealing configuration, the one closest to the study's default attack: query data from the model's
-- own dataset (aux_dataset NULL or equal to the dataset) before other data, the unstated/default surrogate
-- (surrogate_arch NULL) before a named one, probability queries before label-only ones, then the largest query
-- budget. Rows of that one configuration (several seeds, say) are averaged. Only models with both numbers count.
CREATE OR REPLACE VIEW analytics.stealing_points AS
WITH configurations AS (
    -- one row per (model, origin, configuration), with its preference: the smallest key wins
    SELECT model_id, origin, any_value(dataset) AS dataset,
           avg(stealing_accuracy) AS stealing_accuracy, avg(agreement) AS agreement,
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
    SELECT model_id, origin, any_value(dataset) AS dataset,
           arg_min(stealing_accuracy, preference) AS stealing_accuracy,
           arg_min(agreement, preference) AS agreement
    FROM configurations
    GROUP BY model_id, origin
),
accuracy AS (
    SELECT model_id, origin, any_value(dataset) AS dataset, avg(test_accuracy) AS test_accuracy
    FROM results.task_accuracy
    WHERE test_accuracy IS NOT NULL
    GROUP BY model_id, origin
)
SELECT s.model_id, s.origin, coalesce(s.dataset, a.dataset, m.dataset) AS dataset, m.purpose,
       a.test_accuracy, s.stealing_accuracy, s.agreement
FROM stealing s
JOIN accuracy a USING (model_id, origin)
LEFT JOIN catalog.models m USING (model_id);
