"""The parameter catalogue: every documented request body field, and the one validator.

    from apps.catalog import ENDPOINTS, FIELDS, fields_for, field, validate, coerce_form
"""

from .coerce import coerce_form
from .schema import DOCUMENTS, ENDPOINTS, GROUPS, PATHS, Field, Source
from .table import FIELDS, field, fields_for
from .validation import FieldError, ValidationFailed, validate

__all__ = [
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
