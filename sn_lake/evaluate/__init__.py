"""Evaluation: datasets, safe model loading, the demo zoo and the attacks (plain PyTorch, no Dagster)."""
