"""Sources: one package per place models come from (``sn_lake/sources/<name>/``). Each ``crawl.py`` writes raw
records and crawl state to the lake, each ``parse.py`` reads records into typed values; none imports the warehouse or
the catalog (``sn_lake/catalog/<name>.py`` builds the catalog rows). docs/architecture.md has the contract."""
