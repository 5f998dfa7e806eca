"""Partitions shared by the asset modules."""

import dagster as dg

# One partition per catalog model_id that is (or is to be) evaluated; the evaluation assets are
# partitioned by it and the new-models sensor (assets/automation.py) adds to it.
models_partitions = dg.DynamicPartitionsDefinition(name="models")
