-- One point per model, dataset, attack setting (white-box, transfer, query-based, ...), epsilon and origin for
-- the adversarial figures (analytics.adversarial_vs_accuracy and `sn-lake report` read it): its mean clean
-- accuracy and its worst-case drop over the attacks of that setting and epsilon (the drop is clean - robust
-- accuracy where it is not stored), as robust accuracy is usually reported. A row without a dataset takes its
-- model's catalog dataset.
CREATE OR REPLACE VIEW analytics.adversarial_points AS
WITH attacked AS (
    SELECT * FROM results.adversarial WHERE dataset IS NOT NULL
    UNION ALL
    SELECT r.* REPLACE (m.dataset AS dataset)
    FROM (SELECT * FROM results.adversarial WHERE dataset IS NULL) r
    LEFT JOIN catalog.models m USING (model_id)
)
SELECT
    dataset, setting, epsilon, origin, model_id,
    avg(clean_accuracy) AS clean_accuracy,
    max(coalesce(accuracy_drop, clean_accuracy - robust_accuracy)) AS accuracy_drop
FROM attacked
GROUP BY dataset, setting, epsilon, origin, model_id;
