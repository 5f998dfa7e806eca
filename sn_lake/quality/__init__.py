"""Data quality: Great Expectations rules per warehouse table, and the quarantine of refused rows.

``rules`` says what each table must satisfy; ``validate`` runs the rules (GX on a pandas frame,
imported only when a check runs) and moves refused rows to ``catalog.quarantine``.
"""
