"""The Hugging Face Hub: an incremental, polite, resumable crawl of public models, and their catalog rows.

One crawl is two passes, each persisted step by step in the lake:

1. **Listing sweep** over ``GET /api/models`` with the configured filters, ``limit=1000`` and
   ``expand[]`` for every field the catalog needs. Each page is written to
   ``lake/raw/huggingface/crawl_id=<id>/step-NNNNNN.parquet`` (the model objects as received), then
   the ``Link: rel="next"`` cursor is saved to ``lake/state/huggingface.json``; a killed crawl
   resumes from the last completed page, and a page written twice lands on the same step file.
2. **Card pass**: the README.md at the listed ``sha`` for models whose listing lacks a dataset,
   a paper or a reported accuracy, and that have no card at that sha in the lake yet (new models
   and changed shas). It runs until every such card is in the lake, paced by the ``RateLimit``
   headers of the Hub's answers; cards a previous run left pending come first, then the most
   downloaded. An opt-in budget (``max_requests``, ``max_seconds``, ``card_cap``) may stop it early:
   the cards left are reported as pending (summary, state, ``pending_cards``) and taken first next
   run. Never ``config.json`` per model (the Hub counts that as a download): ``expand`` gives it.

The card plan streams from the crawl's step files (one page in memory at a time), so a crawl's
memory does not grow with the Hub.

The package, by job: ``crawl.py`` (the crawl's state machine: listing sweep and card pass), ``cards.py`` (which
cards to fetch, in which order), ``parse.py`` (telling listing and card records apart, typed values, version
history: pure functions). ``sn_lake/catalog/huggingface.py`` turns the records into ``catalog.models`` rows,
``catalog.model_versions`` / ``catalog.model_stats`` and the declared parents for ``catalog.model_tree``.
"""

SOURCE = "huggingface"
