-- The warehouse's four layers. Raw records live as Parquet in the lake; `raw` holds what the
-- warehouse knows about them (crawl log), `catalog` the annotated models, `results` the attack
-- metrics and `analytics` the views that answer questions.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS catalog;
CREATE SCHEMA IF NOT EXISTS results;
CREATE SCHEMA IF NOT EXISTS analytics;
