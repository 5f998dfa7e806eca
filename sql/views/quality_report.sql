-- Every quality rule with what its latest check run found, and the quarantine entries of every
-- writer (the checks and the source parsers) that no current rule accounts for.
CREATE OR REPLACE VIEW analytics.quality_report AS
WITH latest AS (
    SELECT table_name, rule, arg_max(n_checked, checked_at) AS n_checked,
           arg_max(n_failed, checked_at) AS n_failed, max(checked_at) AS last_checked_at
    FROM catalog.quality_runs
    GROUP BY table_name, rule
),
quarantined AS (
    SELECT table_name, rule, count(*) AS n_quarantined, max(detected_at) AS last_detected_at,
           list(row_key ORDER BY detected_at DESC, row_key)[1:5] AS example_row_keys,
           arg_max(detail, detected_at) AS example_detail
    FROM catalog.quarantine
    GROUP BY table_name, rule
)
SELECT
    coalesce(r.table_name, q.table_name) AS table_name,
    coalesce(r.rule, q.rule) AS rule,
    coalesce(r.action, 'reject') AS action,
    r.description,
    l.n_checked,
    l.n_failed,
    CASE WHEN l.n_checked > 0 THEN l.n_failed / l.n_checked END AS failed_fraction,
    l.last_checked_at,
    coalesce(q.n_quarantined, 0) AS n_quarantined,
    q.last_detected_at,
    q.example_row_keys,
    q.example_detail
FROM catalog.quality_rules r
LEFT JOIN latest l USING (table_name, rule)
FULL JOIN quarantined q ON q.table_name = r.table_name AND q.rule = r.rule
ORDER BY table_name, coalesce(l.n_failed, q.n_quarantined, 0) DESC, rule;
