-- How often the annotations our pipeline derives agree with the SecurityNet annotators' labels.
-- For every SecurityNet table row whose paper we resolved (catalog.securitynet_labels joined to
-- catalog.papers on paper_id), one comparison per field where both sides have a value:
--   year, venue (short names, sn_lake.annotate.venues), n_authors, country (the sorted set of ISO
--   codes, sn_lake.annotate.countries) and purpose (sn_lake.annotate.purpose on the paper).
-- Every field is listed, with n_compared = 0 and agreement NULL when nothing could be compared.
--   SELECT * FROM analytics.annotation_agreement;
CREATE OR REPLACE VIEW analytics.annotation_agreement AS
WITH pairs AS (
    SELECT
        l.row_key,
        l.year::VARCHAR AS stated_year,
        p.year::VARCHAR AS derived_year,
        l.venue_normalized AS stated_venue,
        p.venue AS derived_venue,
        l.n_authors::VARCHAR AS stated_n_authors,
        p.n_authors::VARCHAR AS derived_n_authors,
        CASE WHEN len(l.country_codes) > 0 THEN array_to_string(list_sort(list_distinct(l.country_codes)), ',') END AS stated_country,
        CASE WHEN len(p.countries) > 0 THEN array_to_string(list_sort(list_distinct(p.countries)), ',') END AS derived_country,
        l.purpose AS stated_purpose,
        p.purpose AS derived_purpose
    FROM catalog.securitynet_labels l
    JOIN catalog.papers p ON p.paper_id = l.paper_id
),
compared AS (
    SELECT 'year' AS field, stated_year AS stated, derived_year AS derived FROM pairs
    UNION ALL SELECT 'venue', stated_venue, derived_venue FROM pairs
    UNION ALL SELECT 'n_authors', stated_n_authors, derived_n_authors FROM pairs
    UNION ALL SELECT 'country', stated_country, derived_country FROM pairs
    UNION ALL SELECT 'purpose', stated_purpose, derived_purpose FROM pairs
),
fields(field, position) AS (
    VALUES ('year', 1), ('venue', 2), ('n_authors', 3), ('country', 4), ('purpose', 5)
),
counted AS (
    SELECT
        field,
        count(*) FILTER (WHERE stated IS NOT NULL AND derived IS NOT NULL) AS n_compared,
        count(*) FILTER (WHERE stated IS NOT NULL AND derived IS NOT NULL AND stated = derived) AS n_agree
    FROM compared
    GROUP BY field
)
SELECT
    f.field,
    coalesce(c.n_compared, 0) AS n_compared,
    coalesce(c.n_agree, 0) AS n_agree,
    CASE WHEN c.n_compared > 0 THEN c.n_agree / c.n_compared END AS agreement
FROM fields f
LEFT JOIN counted c USING (field)
ORDER BY f.position;
