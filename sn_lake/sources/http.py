"""The shared polite HTTP client, as the sources import it: the same module as :mod:`sn_lake.http_client`.

The client lives below the sources (``sn_lake/http_client.py``) because the evaluation downloads with it too, and the
evaluation imports no source. This name is an alias, not a copy: ``sn_lake.sources.http`` *is* that module, so a
setting or a test's patch of one is a patch of the other.
"""

import sys

from sn_lake import http_client

sys.modules[__name__] = http_client
