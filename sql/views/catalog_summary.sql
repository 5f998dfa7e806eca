-- How many models the catalog holds, by source, purpose and data category.
CREATE OR REPLACE VIEW analytics.catalog_summary AS
SELECT
    source,
    purpose,
    data_category,
    count(*) AS n_models
FROM catalog.models
GROUP BY ALL
ORDER BY source, n_models DESC, purpose NULLS LAST, data_category NULLS LAST;
