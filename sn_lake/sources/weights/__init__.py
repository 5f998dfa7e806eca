"""Weights behind the links: ask GitHub and Zenodo about the weights URLs the asset passes in.

The study's weights live in GitHub repositories (release assets, or files in the repository) and
Zenodo records, not on the model hubs. For every distinct link a crawl asks the public APIs once
(GitHub: ``/repos/{o}/{r}/releases`` with its ``Link`` pagination and ``/repos/{o}/{r}/contents/{path}``;
Zenodo: ``/records/{id}``) and keeps the answers in ``lake/raw/weights/``. The links come from
``sn_lake.catalog.weights.catalog_links`` (through the asset); ``sn_lake.catalog.weights`` then matches
each model to the files of its link and writes ``catalog.weight_files``.

``parse.py`` reads a link into what to ask (:class:`~.parse.Link`) and an answer into its weight files; a file's
format comes from its name and, with ``sniff_bytes``, its first bytes (``sn_lake.weight_formats``).
"""

SOURCE = "weights"
