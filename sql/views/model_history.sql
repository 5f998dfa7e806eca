-- What changed between two crawls of a model, one row per change (oldest first per model):
-- a new revision (with the Hub's last_modified) from catalog.model_versions, and changed download
-- or like counts from catalog.model_stats. old_value is NULL for the first observation.
--   SELECT * FROM catalog.model_history WHERE model_id = 'huggingface:timm/resnet18.a1_in1k';
CREATE OR REPLACE VIEW catalog.model_history AS
SELECT model_id, observed_at, field, old_value, new_value, last_modified
FROM (
    SELECT model_id, first_seen_at AS observed_at, 'revision' AS field,
           lag(revision) OVER (PARTITION BY model_id ORDER BY first_seen_at, revision) AS old_value,
           revision AS new_value, last_modified
    FROM catalog.model_versions
    UNION ALL
    SELECT model_id, observed_at, field, old_value, new_value, NULL::TIMESTAMPTZ AS last_modified
    FROM (
        SELECT model_id, observed_at,
               unnest(['downloads', 'likes']) AS field,
               unnest([lag(downloads) OVER w, lag(likes) OVER w])::VARCHAR AS old_value,
               unnest([downloads, likes])::VARCHAR AS new_value,
               row_number() OVER w AS n
        FROM catalog.model_stats
        WINDOW w AS (PARTITION BY model_id ORDER BY observed_at)
    )
    WHERE n = 1 OR old_value IS DISTINCT FROM new_value
)
ORDER BY model_id, observed_at, field;
