"""CRM tasks: contacts."""
