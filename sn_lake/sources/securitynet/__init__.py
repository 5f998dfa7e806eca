"""The SecurityNet database table (TrustAIRLab/SecurityNet, ``Database/README.MD``) as a source.

``crawl.py`` fetches the markdown from ``SN_LAKE_SECURITYNET_URL`` (a URL, through the shared polite client, or a
local path) and keeps it whole in the lake as one raw record. ``parse.py`` reads its three tables (benchmark
models, security-research models, new models) into typed rows, each value read as NULL or row kept out with its rule
and reason. ``sn_lake/catalog/securitynet.py`` turns them into ``catalog.models`` rows ``securitynet:<row key>``,
``catalog.securitynet_labels`` (what the study's annotators state for every table row), ``results.*`` rows of the
study's published metrics (``origin = 'published:securitynet'``) and ``catalog.quarantine`` entries.

Row keys are stable and unique: ``<table>/<data name>/<model name>`` for model rows and
``new/<title>`` for new-model rows (lower case, spaces as ``-``); a key seen again in the same
table gets ``~2``, ``~3``... in order of appearance (the security table lists each
AdversaryLossLandscape model three times, with different metrics).
"""

SOURCE = "securitynet"
NATIVE_ID = "database-table"  # the native id of the one raw record a crawl writes
