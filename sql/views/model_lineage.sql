-- Every ancestor of every model (contract): depth 1 is a declared parent in catalog.model_tree, 2 a
-- grandparent, and so on. Cycle-safe (a walk never returns to a model it has passed, so in a cycle each
-- model is the other's ancestor, never its own) and capped at depth 16 (sn_lake.annotate.lineage.MAX_DEPTH);
-- an ancestor reached by several paths keeps its shortest depth.
--   SELECT * FROM analytics.model_lineage WHERE ancestor_id = 'huggingface:google/vit-base-patch16-224-in21k'
CREATE OR REPLACE VIEW analytics.model_lineage AS
WITH RECURSIVE walk(model_id, ancestor_id, depth, path) AS (
    SELECT child_id, parent_id, 1, [child_id, parent_id]
    FROM catalog.model_tree
    WHERE child_id <> parent_id
    UNION ALL
    SELECT w.model_id, t.parent_id, w.depth + 1, list_append(w.path, t.parent_id)
    FROM walk w
    JOIN catalog.model_tree t ON t.child_id = w.ancestor_id
    WHERE w.depth < 16 AND NOT list_contains(w.path, t.parent_id)
)
SELECT model_id, ancestor_id, min(depth) AS depth
FROM walk
GROUP BY model_id, ancestor_id;
