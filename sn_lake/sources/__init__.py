"""Sources: one module per place models come from. Each writes raw records to the lake and turns
them into catalog rows; none writes the warehouse itself."""
