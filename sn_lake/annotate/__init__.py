"""Annotation rules: small, table-driven functions that turn source metadata into catalog values.

Each rule returns ``None`` when it does not know; a rule never guesses.
"""
