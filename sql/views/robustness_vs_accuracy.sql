-- Robustness against accuracy (the RobustBench counterpart of the study's Figure 20): per dataset, norm,
-- epsilon and origin, how clean accuracy relates to robust accuracy and to the accuracy lost under attack.
--
-- analytics.robustness_points holds one point per model: its clean accuracy (mean over its rows) and its
-- worst-case robust accuracy over every attack of that norm and epsilon (RobustBench: AutoAttack), as robust
-- accuracy is usually reported. A paper's own claim (attack 'reported') is no measurement and is left out
-- (analytics.reported_vs_measured sets it beside AutoAttack). Only models with both figures are points; a row
-- without a dataset takes its model's catalog dataset. The correlations are NULL below 3 models.
CREATE OR REPLACE VIEW analytics.robustness_points AS
WITH attacked AS (
    SELECT r.model_id, coalesce(r.dataset, m.dataset) AS dataset, r.norm, r.epsilon, r.origin,
           r.clean_accuracy, r.robust_accuracy
    FROM results.adversarial r
    LEFT JOIN (SELECT model_id, dataset FROM catalog.models) m USING (model_id)
    WHERE r.attack <> 'reported'
),
per_model AS (
    SELECT dataset, norm, epsilon, origin, model_id,
           avg(clean_accuracy) AS clean_accuracy, min(robust_accuracy) AS robust_accuracy
    FROM attacked
    GROUP BY dataset, norm, epsilon, origin, model_id
)
SELECT dataset, norm, epsilon, origin, model_id, clean_accuracy, robust_accuracy,
       clean_accuracy - robust_accuracy AS accuracy_drop
FROM per_model
WHERE clean_accuracy IS NOT NULL AND robust_accuracy IS NOT NULL;

CREATE OR REPLACE VIEW analytics.robustness_vs_accuracy AS
SELECT
    dataset,
    norm,
    epsilon,
    origin,
    count(*) AS n_models,
    analytics.pearson_r(clean_accuracy, robust_accuracy) AS pearson_r_clean_robust,
    analytics.pearson_r(clean_accuracy, accuracy_drop) AS pearson_r_clean_drop,
    avg(clean_accuracy) AS mean_clean_accuracy,
    avg(robust_accuracy) AS mean_robust_accuracy
FROM analytics.robustness_points
GROUP BY dataset, norm, epsilon, origin
ORDER BY dataset NULLS LAST, norm NULLS LAST, epsilon NULLS FIRST, origin;
