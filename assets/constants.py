"""Names shared by the asset modules."""

DUCKDB_WRITE_POOL = "duckdb_write"  # one writer of the DuckDB file at a time (limit set in dagster.yaml)
