"""The Dagster code location of sn_lake: thin asset definitions over the ``sn_lake`` library.

Loaded by file from ``dagster_home/workspace.yaml`` (working directory: the project root), so the
generic package name ``assets`` is never installed into site-packages where it could collide.
"""
