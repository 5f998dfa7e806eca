-- Where the paper APIs disagree: per paper and field, every value the sources state (catalog.paper_candidates)
-- when they state more than one, next to the value catalog.papers resolved (and the API it came from).
-- Titles are compared on letters and digits only; authors are compared by their number.
--   SELECT * FROM analytics.paper_disagreements WHERE field = 'venue';
CREATE OR REPLACE VIEW analytics.paper_disagreements AS
WITH stated AS (
    SELECT paper_id, source, 'title' AS field, lower(regexp_replace(title, '[^A-Za-z0-9]+', '', 'g')) AS value, title AS shown
        FROM catalog.paper_candidates WHERE title IS NOT NULL
    UNION ALL SELECT paper_id, source, 'year', year::VARCHAR, year::VARCHAR FROM catalog.paper_candidates WHERE year IS NOT NULL
    UNION ALL SELECT paper_id, source, 'venue', venue, venue FROM catalog.paper_candidates WHERE venue IS NOT NULL
    UNION ALL SELECT paper_id, source, 'n_authors', n_authors::VARCHAR, n_authors::VARCHAR FROM catalog.paper_candidates WHERE n_authors IS NOT NULL
),
disputed AS (
    SELECT
        paper_id,
        field,
        count(DISTINCT value) AS n_values,
        string_agg(source || ' = ' || shown, '; ' ORDER BY source) AS stated_by_source
    FROM stated
    GROUP BY paper_id, field
    HAVING count(DISTINCT value) > 1
)
SELECT
    d.paper_id,
    d.field,
    d.n_values,
    d.stated_by_source,
    CASE d.field
        WHEN 'title' THEN p.title
        WHEN 'year' THEN p.year::VARCHAR
        WHEN 'venue' THEN p.venue
        WHEN 'n_authors' THEN p.n_authors::VARCHAR
    END AS resolved,
    json_extract_string(p.provenance, '$.' || CASE d.field WHEN 'n_authors' THEN 'authors' ELSE d.field END) AS resolved_from
FROM disputed d
JOIN catalog.papers p USING (paper_id)
ORDER BY d.paper_id, d.field;
