-- Distribution shift against accuracy: per shifted test set (ImageNet-ReaL, ImageNetV2, Sketch, ImageNet-A,
-- ImageNet-R, ...), how a model's top-1 on the shifted set follows its top-1 on the clean set it shifts from.
--
-- analytics.shift_points holds one point per model and shifted set: each shifted row is paired with the clean
-- row of the same model, origin and evaluation (config_hash: timm lists a model once per test resolution),
-- and the model's point is the mean over its pairs. Where several origins measured a model, our own ('computed')
-- comes first. Pearson's r is NULL below 3 models.
CREATE OR REPLACE VIEW analytics.shift_points AS
WITH pairs AS (
    SELECT s.dataset, s.model_id, s.origin, t.test_accuracy AS top1, s.top1 AS shift_top1
    FROM results.distribution_shift s
    JOIN results.task_accuracy t
      ON t.model_id = s.model_id AND t.origin = s.origin AND t.dataset = coalesce(s.base_dataset, t.dataset)
     AND t.config_hash IS NOT DISTINCT FROM s.config_hash
    WHERE s.top1 IS NOT NULL AND t.test_accuracy IS NOT NULL
),
per_origin AS (
    SELECT dataset, model_id, origin, avg(top1) AS top1, avg(shift_top1) AS shift_top1,
           row_number() OVER (PARTITION BY dataset, model_id ORDER BY origin <> 'computed', origin) AS preference
    FROM pairs
    GROUP BY dataset, model_id, origin
)
SELECT dataset, model_id, origin, top1, shift_top1
FROM per_origin
WHERE preference = 1;

CREATE OR REPLACE VIEW analytics.shift_vs_accuracy AS
SELECT
    dataset,
    count(*) AS n_models,
    analytics.pearson_r(top1, shift_top1) AS pearson_r,
    avg(top1) AS mean_top1,
    avg(shift_top1) AS mean_shift_top1
FROM analytics.shift_points
GROUP BY dataset
ORDER BY dataset;
