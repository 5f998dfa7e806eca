-- `sn-lake report`, the model-stealing figure: one point per (model, origin) of analytics.stealing_points, its
-- test accuracy (x) against the stealing accuracy (y) of its primary stealing configuration.
SELECT dataset AS panel, origin AS series, test_accuracy AS x, stealing_accuracy AS y
FROM analytics.stealing_points
ORDER BY panel, series, model_id
