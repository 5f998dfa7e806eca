"""Names shared by the asset modules."""

DUCKDB_WRITE_POOL = "duckdb_write"  # one writer of the DuckDB file at a time (limit set in dagster.yaml)
# the evaluation assets' accelerator (limit 1 by default in dagster.yaml; CPU-only machines use it too)
GPU_POOL = "gpu"
