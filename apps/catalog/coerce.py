"""coerce_form(): a plain HTML form post (every value a string) to a clean body.

Each field's text becomes the JSON value its kind needs, then the result goes
through the same validator as everything else. A text that cannot be read
(bad JSON, "abc" for a number) becomes a FieldError, reported together with
the validator's errors, so a form shows every mistake at once.

- An empty input means unset: the field is not sent.
- Keys that are not fields of the endpoint are ignored: a form also carries
  csrfmiddlewaretoken and the page's own controls.
- A QueryDict gives the last value of a repeated key, so the usual hidden
  "false" input followed by a checkbox reads as the checkbox when checked.
- prompt and stop are text, unless the text is a JSON array (a list of
  prompts, token ids, or stop sequences). Anything else starting with "[" is
  kept as text: "[INST] hi" is a prompt.
"""

import json
import re

from .table import fields_for
from .validation import FieldError, validate_with

_TRUE = {"true", "on", "1", "yes"}
_FALSE = {"false", "off", "0", "no"}
_INTEGER = re.compile(r"[-+]?[0-9]+")
_DECIMAL = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")

# Kinds whose text is sent as typed (whitespace matters in a prompt).
_TEXT_KINDS = {"string", "prompt", "stop"}


class _Unreadable(Exception):
    """The text cannot become a value of the field's kind; the message says why."""


def coerce_form(endpoint: str, form) -> dict:
    """The clean body for a form post; raises ValidationFailed with every error."""
    data, errors = {}, []
    for f in fields_for(endpoint):
        text = form.get(f.name)
        if not isinstance(text, str):
            # Absent, or already a value (a dict built in code): validate as is.
            if text is not None:
                data[f.name] = text
            continue
        if f.kind in _TEXT_KINDS:
            # Browsers submit a textarea's newlines as CRLF; the user typed "\n".
            text = text.replace("\r\n", "\n")
        else:
            text = text.strip()
        if text == "":
            continue
        try:
            data[f.name] = _READERS[f.kind](f.name, text)
        except _Unreadable as e:
            errors.append(FieldError(f.name, str(e)))
    return validate_with(endpoint, data, errors)


def _text(name, text):
    return text


def _number(name, text):
    if _INTEGER.fullmatch(text):
        return _integer(name, text)  # keep 1 an integer: "View code" shows what was typed
    if _DECIMAL.fullmatch(text):
        return float(text)  # "1e999" is inf, which the validator rejects
    raise _Unreadable(f"{name} must be a number")


def _integer(name, text):
    if not _INTEGER.fullmatch(text):
        raise _Unreadable(f"{name} must be an integer")
    try:
        return int(text)
    except ValueError:  # more digits than Python will convert
        raise _Unreadable(f"{name} is too large") from None


def _boolean(name, text):
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise _Unreadable(f"{name} must be a boolean")


def _reject_constant(constant):
    raise ValueError(f"{constant} is not JSON")


def _json(name, text):
    try:
        # parse_constant: Python's json reads NaN and Infinity, JSON does not.
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise _Unreadable(
            f"{name} is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})"
        ) from None
    except (ValueError, RecursionError):
        raise _Unreadable(f"{name} is not valid JSON") from None


def _text_or_json_array(name, text):
    if text.lstrip().startswith("["):
        try:
            value = _json(name, text)
        except _Unreadable:
            return text
        if isinstance(value, list):
            return value
    return text


def _choice_or_json(name, text):
    return _json(name, text) if text.startswith("{") else text


def _response_format(name, text):
    # A bare type ("json_object") is the common case; a json_schema needs JSON.
    return _json(name, text) if text.startswith("{") else {"type": text}


_READERS = {
    "string": _text,
    "number": _number,
    "integer": _integer,
    "boolean": _boolean,
    "prompt": _text_or_json_array,
    "stop": _text_or_json_array,
    "messages": _json,
    "logit_bias": _json,
    "stream_options": _json,
    "tools": _json,
    "tool_choice": _choice_or_json,
    "response_format": _response_format,
    "enum": _text,
    "metadata": _json,
    "modalities": _json,
    "prediction": _json,
    "audio": _json,
    "moderation": _json,
    "prompt_cache_options": _json,
    "web_search_options": _json,
}
