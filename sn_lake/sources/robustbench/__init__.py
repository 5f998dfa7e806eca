"""RobustBench's leaderboard records as a source: ``model_info/<dataset>/<threat model>/<name>.json`` (clean and
AutoAttack accuracy, the paper's own claim, epsilon, architecture, venue, paper link, extra data, ``unreliable``)
and the per-corruption CSVs beside the corruption records.

``crawl.py`` fetches the folder (a local copy or the upstream repository's raw files) into ``lake/raw/robustbench/``;
``parse.py`` reads the records into typed rows; ``sn_lake/catalog/robustbench.py`` annotates them and writes the
catalog, the quarantine and the published results (docs/published_results.md).
"""

SOURCE = "robustbench"
