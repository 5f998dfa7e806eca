"""Local models: Hub-format folders under ``$SN_LAKE_HOME/zoo/`` (the demo zoo), as catalog source ``local``.

A crawl (``crawl.py``) reads each folder's ``config.json`` and model card into one raw record (no network; the
records need no parsing beyond their JSON); ``sn_lake/catalog/local.py`` makes the catalog row ``local:<folder
name>``, with ``known_backdoor`` from the training record the zoo writes into ``config.json`` (``sn_lake.backdoor``).
"""

SOURCE = "local"
