-- `sn-lake report`, the catalog-composition figure: models per source, dataset, architecture family,
-- purpose and year (the paper's year where the paper is known, else the year the publisher created the model).
SELECT 'sources' AS facet, source AS label, count(*) AS n FROM catalog.models GROUP BY ALL
UNION ALL
SELECT 'datasets', coalesce(dataset, 'unknown'), count(*) FROM catalog.models GROUP BY ALL
UNION ALL
SELECT 'architecture families', coalesce(model_type, 'unknown'), count(*) FROM catalog.models GROUP BY ALL
UNION ALL
SELECT 'purposes', coalesce(purpose, 'unknown'), count(*) FROM catalog.models GROUP BY ALL
UNION ALL
SELECT 'years', coalesce(CAST(coalesce(p.year, year(m.created_at)) AS VARCHAR), 'unknown'), count(*)
FROM catalog.models m LEFT JOIN catalog.papers p USING (paper_id) GROUP BY ALL
