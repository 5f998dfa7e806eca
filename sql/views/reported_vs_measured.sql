-- Reported against measured: every model and metric where a claim exists, beside a figure of another origin,
-- with the gap (claimed - measured; positive: the claim is higher than what was measured).
--
-- Figures are ranked by how independent of the publisher they are (tier):
--   0  the publisher's own claim: a model card's model-index ('claimed:model-card', catalog.models.reported_accuracy;
--      timm registry rows take timm's table there, listed as 'published:timm' instead), a paper's claim as
--      RobustBench quotes it (attack or figure 'reported')
--   1  a study's or benchmark's published measurement: SecurityNet, timm's result tables, RobustBench's AutoAttack
--   2  an external re-evaluation RobustBench quotes ('external')
--   3  our own measurement ('computed')
-- Each figure of tier t is set beside every figure of a higher tier for the same metric, dataset (either may be
-- unknown), norm and epsilon, of the same model or of one catalog.model_links links to it (the same weights seen
-- in another source, e.g. huggingface:timm/<name> and timm:<name>). Per model and origin a robust accuracy is the
-- worst case over that origin's attacks, any other metric the mean. Metrics: test_accuracy, clean_accuracy (beside
-- an attack), robust_accuracy, corruption_accuracy (mean over a benchmark's corruptions).
CREATE OR REPLACE VIEW analytics.reported_vs_measured AS
WITH figures AS (
    SELECT model_id, 'test_accuracy' AS metric, dataset, NULL::VARCHAR AS norm, NULL::DOUBLE AS epsilon,
           'claimed:model-card' AS origin, 'model-index' AS figure, 0 AS tier, reported_accuracy AS value
    FROM catalog.models
    WHERE reported_accuracy IS NOT NULL AND source <> 'timm'
    UNION ALL
    SELECT model_id, 'test_accuracy', dataset, NULL, NULL, origin, 'test accuracy',
           CASE WHEN origin = 'computed' THEN 3 ELSE 1 END, test_accuracy
    FROM results.task_accuracy WHERE test_accuracy IS NOT NULL
    UNION ALL
    SELECT model_id, 'robust_accuracy', dataset, norm, epsilon, origin, attack,
           CASE WHEN attack = 'reported' THEN 0 WHEN origin = 'computed' THEN 3 ELSE 1 END, robust_accuracy
    FROM results.adversarial WHERE robust_accuracy IS NOT NULL
    UNION ALL
    SELECT model_id, 'robust_accuracy', dataset, norm, epsilon, origin, 'external', 2, external
    FROM results.adversarial WHERE external IS NOT NULL
    UNION ALL
    SELECT model_id, 'clean_accuracy', dataset, NULL, NULL, origin, attack,
           CASE WHEN origin = 'computed' THEN 3 ELSE 1 END, clean_accuracy
    FROM results.adversarial WHERE clean_accuracy IS NOT NULL
    UNION ALL
    SELECT model_id, 'corruption_accuracy', dataset, NULL, NULL, 'published:robustbench', 'reported', 0,
           reported_accuracy
    FROM catalog.robustbench_entries
    WHERE threat_model = 'corruptions' AND in_catalog AND reported_accuracy IS NOT NULL
    UNION ALL
    SELECT model_id, 'corruption_accuracy', dataset, NULL, NULL, origin, benchmark,
           CASE WHEN origin = 'computed' THEN 3 ELSE 1 END, accuracy
    FROM results.corruption
    WHERE corruption = 'all' AND accuracy IS NOT NULL AND coalesce(benchmark, '') NOT LIKE '%3dcc'
),
grouped AS (
    SELECT model_id, metric, dataset, norm, epsilon, origin, tier,
           string_agg(DISTINCT figure, ',' ORDER BY figure) AS figure,
           CASE WHEN metric = 'robust_accuracy' THEN min(value) ELSE avg(value) END AS value
    FROM figures
    GROUP BY model_id, metric, dataset, norm, epsilon, origin, tier
),
related AS (
    SELECT model_id, model_id AS related_id FROM grouped
    UNION
    SELECT model_id, linked_model_id FROM catalog.model_links
)
SELECT
    c.model_id,
    c.metric,
    c.value AS claimed,
    c.origin AS claimed_origin,
    avg(m.value) AS measured,
    m.origin AS measured_origin,
    c.value - avg(m.value) AS gap,
    c.dataset,
    c.norm,
    c.epsilon,
    c.figure AS claimed_figure,
    string_agg(DISTINCT m.figure, ',' ORDER BY m.figure) AS measured_figure
FROM grouped c
JOIN related r ON r.model_id = c.model_id
JOIN grouped m
  ON m.model_id = r.related_id AND m.metric = c.metric AND m.tier > c.tier
 AND (c.dataset IS NULL OR m.dataset IS NULL OR c.dataset = m.dataset)
 AND c.norm IS NOT DISTINCT FROM m.norm
 AND (c.epsilon IS NULL AND m.epsilon IS NULL OR abs(c.epsilon - m.epsilon) < 1e-9)
GROUP BY c.model_id, c.metric, c.value, c.origin, m.origin, m.tier, c.dataset, c.norm, c.epsilon, c.figure, c.tier
ORDER BY c.model_id, c.metric, c.tier, m.tier, m.origin;
