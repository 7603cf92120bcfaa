"""Tables of the domains app (its capability lands in a later issue)."""
