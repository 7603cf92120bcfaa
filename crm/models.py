"""Tables of the crm app (its capability lands in a later issue)."""
