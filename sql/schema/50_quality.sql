-- The quality rules the checks run (sn_lake/quality/rules.py) and what each check run found, so
-- analytics.quality_report can summarize every rule, including the ones nothing broke.
CREATE TABLE IF NOT EXISTS catalog.quality_rules (
    table_name  VARCHAR NOT NULL,
    rule        VARCHAR NOT NULL,
    action      VARCHAR NOT NULL,      -- 'reject': the row moves to catalog.quarantine; 'flag': it stays
    description VARCHAR NOT NULL,
    PRIMARY KEY (table_name, rule)
);

CREATE TABLE IF NOT EXISTS catalog.quality_runs (
    table_name  VARCHAR NOT NULL,
    rule        VARCHAR NOT NULL,
    checked_at  TIMESTAMPTZ NOT NULL,
    n_checked   BIGINT NOT NULL,       -- rows the rule saw
    n_failed    BIGINT NOT NULL        -- rows that broke it (rejected or flagged)
);
