"""The parameter catalogue: every documented request body field, and the one validator.

    from apps.catalog import ENDPOINTS, FIELDS, fields_for, field, validate, coerce_form
    from apps.catalog import names_for, extras_of  # extras: keys the catalogue does not know
"""

from .coerce import coerce_form
from .schema import BEYOND_SEEDS, DOCUMENTS, ENDPOINTS, GROUPS, PATHS, Field, Source
from .table import FIELDS, LEGACY_FIELDS, field, fields_for, names_for
from .validation import FieldError, ValidationFailed, extras_of, validate

__all__ = [
    "BEYOND_SEEDS",
    "LEGACY_FIELDS",
    "extras_of",
    "names_for",
    "DOCUMENTS",
    "ENDPOINTS",
    "FIELDS",
    "GROUPS",
    "PATHS",
    "Field",
    "FieldError",
    "Source",
    "ValidationFailed",
    "coerce_form",
    "field",
    "fields_for",
    "validate",
]
