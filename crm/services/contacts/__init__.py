"""Contacts: custom field definitions, create/update/delete, merge, erase (GDPR art. 17), and
the CSV import (claim / I/O / apply).

Locks: a contact's emails, phones and the primary copies on the row (``Contact.email``,
``Contact.phone``) change only under the contact's row lock; a merge locks both contacts in id
order, so two merges of the same pair in opposite directions cannot deadlock.
"""

from crm.services.contacts.checks import custom_values_check
from crm.services.contacts.constants import ERASED_NAME, MAX_TAGS, SCALAR_FIELDS
from crm.services.contacts.custom_fields import (
    custom_field_create,
    custom_field_delete,
    custom_field_update,
)
from crm.services.contacts.erase import contact_erase
from crm.services.contacts.imports import (
    HEADER_ALIASES,
    IMPORT_BATCH,
    IMPORT_FIELDS,
    LAYOUTS,
    MAX_STORED_ERRORS,
    ImportFailed,
    contact_import_run,
    contact_import_start,
    header_key,
    import_columns,
    import_file_key,
)
from crm.services.contacts.merge import contact_merge
from crm.services.contacts.people import contact_create, contact_delete, contact_update

__all__ = [
    "ERASED_NAME",
    "HEADER_ALIASES",
    "IMPORT_BATCH",
    "IMPORT_FIELDS",
    "LAYOUTS",
    "MAX_STORED_ERRORS",
    "MAX_TAGS",
    "SCALAR_FIELDS",
    "ImportFailed",
    "contact_create",
    "contact_delete",
    "contact_erase",
    "contact_import_run",
    "contact_import_start",
    "contact_merge",
    "contact_update",
    "custom_field_create",
    "custom_field_delete",
    "custom_field_update",
    "custom_values_check",
    "header_key",
    "import_columns",
    "import_file_key",
]
