"""The studio's invoices and credit notes in the API (under /api/v1/billing/invoices/)."""
