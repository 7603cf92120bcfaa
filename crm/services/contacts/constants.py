"""Constants of the contact services."""

ERASED_NAME = "Erased contact"
SCALAR_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "source",
    "notes",
)
MAX_TAGS = 50
