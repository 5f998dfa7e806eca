"""sn_lake: a lake and warehouse of public image classifiers and their measured vulnerabilities.

The package is a plain library (no Dagster imports outside ``sn_lake.cli``); ``assets/`` is the
Dagster layer over it.
"""

__version__ = "0.1.0"
