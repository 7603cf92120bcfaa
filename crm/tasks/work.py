"""CRM tasks: work."""
