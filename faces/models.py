"""Tables of the faces app (its capability lands in a later issue)."""
