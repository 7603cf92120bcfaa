"""Tables of the billing app (its capability lands in a later issue)."""
