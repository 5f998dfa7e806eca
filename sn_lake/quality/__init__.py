"""Data quality: Great Expectations rules per warehouse table, and the quarantine of refused rows.

``rules`` says what each table must satisfy (the results tables' rules follow the attack families'
registry, ``sn_lake.evaluate.families``); ``validate`` runs the rules (GX on a pandas frame, imported
only when a rule runs): ``quarantine_table`` in the step that builds a table moves refused rows to
``catalog.quarantine``, ``observe_table`` in its check reports on what remains and changes nothing.
"""
