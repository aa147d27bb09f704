"""The vocabulary of the catalogue: what a Field is, and the documents it cites.

The table itself is in `table.py`; the validator in `validation.py`.
"""

from dataclasses import dataclass
from typing import Any, NamedTuple

ENDPOINTS = ("completions", "chat")

# The document key of fields beyond the seed documents (see DOCUMENTS).
BEYOND_SEEDS = "openai-api"

# The path a client posts to; error messages name it.
PATHS = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}

# Form groups, in the order the playground shows them.
GROUPS = ("input", "sampling", "length", "penalties", "output", "advanced", "newer")

# The seed documents (shared/seeds/<id>_*.txt) that a Source cites.
DOCUMENTS = {
    "000": "Gateway docs, POST /v1/completions",
    "001": "Gateway docs, POST /v1/completions (plain text of 000)",
    "002": "Gateway docs, POST /v1/chat/completions",
    "003": "OpenAI OpenAPI schema, POST /completions",
    "004": "Vendor docs, OpenAI-compatible /v1/completions",
    # The second tier: fields no seed document has, which OpenAI's SDK sends
    # today. Their limits are OpenAI's current API reference, as the official
    # `openai` Python SDK (3.51) documents and types them.
    BEYOND_SEEDS: "OpenAI API reference (current), beyond the seed documents",
}

# kind -> (the type as the documents name it, the default form widget).
# A kind is what the validator checks; structured kinds each have their own
# checker because their shapes differ (a prompt is not a stop list).
KINDS = {
    "string": ("string", "text"),
    "number": ("number", "number"),
    "integer": ("integer", "number"),
    "boolean": ("boolean", "checkbox"),
    "prompt": ("prompt", "textarea"),
    "messages": ("messages", "messages"),
    "stop": ("string-or-array", "text"),
    "logit_bias": ("json object", "json"),
    "stream_options": ("json object", "json"),
    "response_format": ("json object", "choice-or-json"),
    "tools": ("tools", "json"),
    "tool_choice": ("string-or-object", "choice-or-json"),
    # Beyond the seeds.
    "enum": ("string (one of a list)", "select"),
    "metadata": ("json object of strings", "json"),
    "modalities": ("array of strings", "json"),
    "prediction": ("json object", "json"),
    "audio": ("json object", "json"),
    "moderation": ("json object", "json"),
    "prompt_cache_options": ("json object", "json"),
    "web_search_options": ("json object", "json"),
}


class Source(NamedTuple):
    doc: str  # a key of DOCUMENTS
    says: str  # what that document says about the field, in its own words


def format_number(value) -> str:
    """2 rather than 2.0, so messages read like the documents."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Field:
    """One body field of one endpoint.

    A field that exists on both endpoints has two entries, because the
    documents describe them differently (logprobs is an integer 0..5 for
    completions and a boolean for chat; defaults and sources differ too).
    """

    name: str
    endpoint: str  # one of ENDPOINTS
    kind: str  # one of KINDS
    group: str  # one of GROUPS
    help: str  # short, from the documents; the form shows it on hover
    sources: tuple[Source, ...]
    required: bool = False
    # The range the validator enforces. For logit_bias it bounds the values.
    minimum: int | float | None = None
    maximum: int | float | None = None
    exclusive_minimum: bool = False
    # Array length limits (stop).
    min_items: int | None = None
    max_items: int | None = None
    max_length: int | None = None  # strings (safety_identifier); metadata's values
    choices: tuple[str, ...] = ()  # tool_choice strings, response_format types
    default: Any = None  # the documented default; None: unstated or "model default"
    # Sent when the field is unset: the documented default, for a field whose
    # backends' own defaults differ from it (llama.cpp's max_tokens is "until
    # the context is full", OpenAI's is 16). None: unset fields are not sent.
    applied_default: Any = None
    # Whether the documents allow null. The validator treats null as unset
    # everywhere (it is never sent), so this is information, not a rule.
    nullable: bool = True
    # The document the enforced limits come from ("limit from: ..." in the UI);
    # None when only the type is checked.
    enforced_source: str | None = None
    label: str = ""  # derived from the name when empty
    widget: str = ""  # derived from the kind when empty

    def __post_init__(self):
        # The table is hand-written: catch a typo at import time, not in a form.
        problems = [
            f"endpoint {self.endpoint!r}" if self.endpoint not in ENDPOINTS else "",
            f"kind {self.kind!r}" if self.kind not in KINDS else "",
            f"group {self.group!r}" if self.group not in GROUPS else "",
            *(f"source {s.doc!r}" for s in self.sources if s.doc not in DOCUMENTS),
        ]
        if self.enforced_source not in (None, *(s.doc for s in self.sources)):
            problems.append(f"enforced_source {self.enforced_source!r} is not among its sources")
        problems = [p for p in problems if p]
        if problems:
            raise ValueError(f"catalogue field {self.name}: bad {', '.join(problems)}")
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " ").capitalize())
        if not self.widget:
            object.__setattr__(self, "widget", KINDS[self.kind][1])

    @property
    def beyond_seeds(self) -> bool:
        """A second-tier field: no seed document has it (see BEYOND_SEEDS)."""
        return any(s.doc == BEYOND_SEEDS for s in self.sources)

    @property
    def type(self) -> str:
        return KINDS[self.kind][0]

    @property
    def range_text(self) -> str:
        """The enforced range in words ("between 0 and 2"); "" when there is none."""
        low, high = self.minimum, self.maximum
        if low is None and high is None:
            return ""
        if low is None:
            return f"at most {format_number(high)}"
        if self.exclusive_minimum:
            lower = f"greater than {format_number(low)}"
            return lower if high is None else f"{lower} and at most {format_number(high)}"
        if high is None:
            return f"at least {format_number(low)}"
        return f"between {format_number(low)} and {format_number(high)}"

    def as_dict(self) -> dict:
        """Plain JSON for the browser's form code."""
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "type": self.type,
            "widget": self.widget,
            "group": self.group,
            "label": self.label,
            "help": self.help,
            "required": self.required,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "exclusive_minimum": self.exclusive_minimum,
            "range": self.range_text,
            "min_items": self.min_items,
            "max_items": self.max_items,
            "max_length": self.max_length,
            "beyond_seeds": self.beyond_seeds,
            "choices": list(self.choices),
            "default": self.default,
            "applied_default": self.applied_default,
            "nullable": self.nullable,
            "sources": [
                {"doc": s.doc, "title": DOCUMENTS[s.doc], "says": s.says} for s in self.sources
            ],
            "enforced_source": self.enforced_source,
        }
