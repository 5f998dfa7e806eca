-- The study's Table 1: per backdoor detector, dataset and origin, how often a detector flags a
-- model. A model's verdict is the one of its most recent run of that detector. The false-positive
-- rate is over models not known to be backdoored (catalog.models.known_backdoor not TRUE), with a
-- Wilson 95% interval; the true-positive rate is over models known to be backdoored (NULL when
-- there are none). n_flagged counts every flagged model; the median runtime is over runs.
CREATE OR REPLACE VIEW analytics.backdoor_detection AS
WITH per_model AS (
    SELECT
        r.detector,
        coalesce(r.dataset, any_value(m.dataset)) AS dataset,
        r.origin,
        r.model_id,
        coalesce(any_value(m.known_backdoor), false) AS known_backdoor,
        arg_max(r.flagged, coalesce(r.computed_at, TIMESTAMPTZ '1970-01-01 00:00:00+00')) AS flagged,
        median(r.runtime_s) AS runtime_s,
        list(r.runtime_s) AS runtimes
    FROM results.backdoor_detection r
    LEFT JOIN catalog.models m USING (model_id)
    WHERE r.flagged IS NOT NULL
    GROUP BY r.detector, r.dataset, r.origin, r.model_id
),
counts AS (
    SELECT
        detector, dataset, origin,
        count(*) AS n_models,
        count(*) FILTER (WHERE flagged) AS n_flagged,
        count(*) FILTER (WHERE NOT known_backdoor) AS n_clean,
        count(*) FILTER (WHERE NOT known_backdoor AND flagged) AS n_clean_flagged,
        count(*) FILTER (WHERE known_backdoor) AS n_backdoored,
        count(*) FILTER (WHERE known_backdoor AND flagged) AS n_backdoored_flagged,
        list_median(flatten(list(runtimes))) AS median_runtime_s
    FROM per_model
    GROUP BY detector, dataset, origin
)
SELECT
    detector,
    dataset,
    origin,
    n_models,
    n_flagged,
    CASE WHEN n_clean > 0 THEN n_clean_flagged / n_clean END AS false_positive_rate,
    analytics.wilson_low(n_clean_flagged::DOUBLE, n_clean::DOUBLE) AS fpr_ci_low,
    analytics.wilson_high(n_clean_flagged::DOUBLE, n_clean::DOUBLE) AS fpr_ci_high,
    CASE WHEN n_backdoored > 0 THEN n_backdoored_flagged / n_backdoored END AS true_positive_rate,
    median_runtime_s
FROM counts
ORDER BY detector, dataset NULLS LAST, origin;
