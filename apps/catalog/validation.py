"""validate(): the one validator for a request body, whoever sent it.

The websocket consumer, form posts (through coerce_form) and the /v1 gateway
all call it, so a user sees the same message for the same mistake everywhere.

- Every error is collected and raised together in one ValidationFailed.
- null means unset: the field is left out of the clean body, never sent;
  inside a message too (an SDK replaying a message sends "name": null,
  "refusal": null..., which llama.cpp fails on). Two exceptions, from OpenAI's
  schema: a null prompt is its documented default (<|endoftext|>), and an
  unset field with an `applied_default` gets that value.
- Types are JSON's, strictly: a boolean is not a number (Python's bool is an
  int, so it is rejected explicitly), "true" is not a boolean, NaN and
  Infinity are not numbers. JSON has one number type, so a whole-number float
  (2.0) is an integer, as OpenAI accepts it; the clean body has it as 2.
- Inside structured fields, keys we do not know are passed through untouched:
  providers add message and content-block keys often (an SDK replaying an
  assistant message sends "refusal"), and the upstream is their judge.
- A top-level key the catalogue does not know is an *extra* (a provider's own
  field: vLLM's top_k, llama.cpp's min_p): it must be plain JSON, and is kept
  in the clean body after the catalogue's fields. Whether it is sent, dropped
  with a notice or refused is the provider's policy (Provider.unknown_fields),
  applied by the adapter once the model is known. OpenAI's deprecated
  functions/function_call are not extras: they are refused with what to send
  instead (see LEGACY_FIELDS).
- Whatever passes can be sent: integers fit in 64 bits (an unbounded field
  like max_tokens included) and text is valid Unicode (JSON's "\\ud800"
  escape decodes to a lone surrogate, which UTF-8 cannot encode).
- Messages never quote a caller's value, so garbage cannot flood a message.
"""

import math
import re
from dataclasses import dataclass

from .schema import PATHS, Field
from .table import INT64_MAX, INT64_MIN, LEGACY_FIELDS, validation_plan

# "developer" is OpenAI's current name for "system". It is sent as is: the
# embedded llama.cpp reads it as system, and a backend that lacks it answers a
# 4xx, which the gateway passes on as the client's 400.
ROLES = ("developer", "system", "user", "assistant", "tool")

# OpenAI's rule for function and json_schema names.
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_NAME_RULE = "must be 1 to 64 letters, digits, underscores or dashes"

# A logit_bias key: a token id as JSON writes object keys, a string of digits.
_TOKEN_ID_KEY = re.compile(r"[0-9]{1,19}")

# Deeper than this is garbage, not a conversation or a JSON schema, and it
# keeps json.dumps and the upstream's parser far from their recursion limits.
MAX_DEPTH = 64


@dataclass(frozen=True)
class FieldError:
    field: str  # "temperature", "messages[2].tool_call_id", or "body"
    message: str


class ValidationFailed(Exception):
    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("; ".join(e.message for e in self.errors))


def validate(endpoint: str, data: dict, *, extras: bool = True) -> dict:
    """The clean body: only the fields that were set, in form order, then
    the extras (extras=False: an unknown key is an error instead).

    Raises ValidationFailed with every error found. `validate` of a clean
    body returns it unchanged.
    """
    return validate_with(endpoint, data, [], extras=extras)


def validate_with(endpoint: str, data, errors: list, *, extras: bool = True) -> dict:
    """validate(), adding to errors already found for some fields (coerce_form's
    parse errors). Those fields are not checked again, and rules that involve
    another field skip them, so nothing is reported twice."""
    fields, known, when_absent = validation_plan(endpoint)
    if not isinstance(data, dict):
        raise ValidationFailed([FieldError("body", "the request body must be a JSON object")])
    errors = list(errors)
    # Fields that were given but are wrong: set, but not in the clean body.
    bad = {e.field.split(".")[0].split("[")[0] for e in errors}

    allow_extras, extras = extras, {}
    for key, value in data.items():
        if not isinstance(key, str):
            _add(errors, "body", "the request body has a key that is not a string")
        elif key in known:
            continue
        elif key in LEGACY_FIELDS[endpoint]:
            _add(errors, key, LEGACY_FIELDS[endpoint][key])
        elif not allow_extras:
            _add(errors, _shown(key), f"{_shown(key)} is not a field of {PATHS[endpoint]}")
        elif not _is_unicode(key):
            _add(errors, "body", "the request body has a key that is not valid Unicode text")
        elif value is not None:  # null is unset, as for every field
            problem = _json_problem(value, _shown(key))
            if problem:
                errors.append(problem)
            else:
                extras[key] = value

    clean = {}
    for f in fields:
        if f.name not in data and f.name not in when_absent:
            continue  # unset: not sent (most fields of most bodies)
        value = data.get(f.name)
        if f.name in bad:
            continue
        if value is None:
            if f.required and f.nullable and f.default is not None and f.name in data:
                clean[f.name] = f.default
            elif f.required:
                errors.append(FieldError(f.name, f"{f.name} is required"))
            elif f.applied_default is not None:
                clean[f.name] = f.applied_default
            continue
        found = _errors_of(f, value)
        if found:
            errors.extend(found)
            bad.add(f.name)
        else:
            clean[f.name] = _normalized(f, value)

    errors.extend(_combination_errors(clean, bad))
    if errors:
        raise ValidationFailed(errors)
    clean.update(extras)
    return clean


def extras_of(endpoint: str, body: dict) -> list[str]:
    """The names of a body's extras: its keys the catalogue does not know."""
    known = validation_plan(endpoint)[1]
    return [key for key in body if key not in known]


def _normalized(f: Field, value):
    """A valid value as it is sent: whole-number floats as integers, and
    messages without their null keys."""
    if f.kind == "integer":
        return int(value)
    if f.kind == "messages":
        return [
            {k: v for k, v in message.items() if v is not None or k == "content"}
            for message in value
        ]
    return value


def _shown(key: str) -> str:
    """A caller's key as it may appear in a message: short, and encodable."""
    key = key.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate becomes "?"
    return key if len(key) <= 40 else key[:40] + "…"


def _errors_of(f: Field, value) -> list[FieldError]:
    errors = []
    if f.kind in _SCALAR_CHECKS:
        _SCALAR_CHECKS[f.kind](f, value, errors)
        return errors
    _STRUCTURED_CHECKS[f.kind](f, value, errors)
    if not errors:
        # The shape is right; what it carries untouched (unknown keys, a tool's
        # JSON Schema) must still be plain JSON that json.dumps can send.
        problem = _json_problem(value, f.name)
        if problem:
            errors.append(problem)
    return errors


def _add(errors, path, message):
    errors.append(FieldError(path, message))


# --- scalars -----------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_whole(value) -> bool:
    """An integer as JSON writes it: 2 or 2.0 (JSON has no integer type)."""
    if isinstance(value, float):
        return math.isfinite(value) and value.is_integer()
    return _is_int(value)


def _is_number(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return _is_int(value)


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _in_range(f: Field, value) -> bool:
    if f.minimum is not None:
        if value < f.minimum or (f.exclusive_minimum and value == f.minimum):
            return False
    return f.maximum is None or value <= f.maximum


def _check_string(f, value, errors):
    if not isinstance(value, str):
        _add(errors, f.name, f"{f.name} must be a string")
    elif f.required and not value.strip():
        _add(errors, f.name, f"{f.name} must not be empty")
    elif not _is_unicode(value):
        _add(errors, f.name, f"{f.name} must be valid Unicode text")
    elif f.max_length is not None and len(value) > f.max_length:
        _add(errors, f.name, f"{f.name} must be at most {f.max_length} characters")


def _check_enum(f, value, errors):
    if not isinstance(value, str) or value not in f.choices:
        _add(errors, f.name, f"{f.name} must be one of {', '.join(f.choices)}")


def _check_range(f, value, errors):
    if not _in_range(f, value):
        _add(errors, f.name, f"{f.name} must be {f.range_text}")
    elif (_is_int(value) or f.kind == "integer") and not INT64_MIN <= value <= INT64_MAX:
        # No document bounds max_tokens or repetition_penalty from above, but
        # JSON integers beyond 64 bits are not portable (nor printable, past
        # 4300 digits).
        _add(errors, f.name, f"{f.name} must be at most {INT64_MAX}")


def _check_number(f, value, errors):
    if not _is_number(value):
        _add(errors, f.name, f"{f.name} must be a number")
    else:
        _check_range(f, value, errors)


def _check_integer(f, value, errors):
    if not _is_whole(value):
        _add(errors, f.name, f"{f.name} must be an integer")
    else:
        _check_range(f, value, errors)


def _check_boolean(f, value, errors):
    if not isinstance(value, bool):
        _add(errors, f.name, f"{f.name} must be a boolean")


_SCALAR_CHECKS = {
    "string": _check_string,
    "number": _check_number,
    "integer": _check_integer,
    "boolean": _check_boolean,
    "enum": _check_enum,
}


# --- plain JSON ----------------------------------------------------------------


def _json_problem(value, path) -> FieldError | None:
    """The first thing that keeps value from being plain JSON, if any.

    Iterative, so garbage nested a million deep cannot exhaust the stack.
    Values from json.loads always pass except for depth; Python callers can
    hand over tuples, NaN or integers too long to print. The shape checks
    before it never recurse more than a few fixed levels.
    """
    stack = [(value, path, 1)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return FieldError(path, f"{path} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    return FieldError(path, f"{path} has a key that is not a string")
                if not _is_unicode(key):
                    return FieldError(path, f"{path} has a key that is not valid Unicode text")
                stack.append((item, f"{path}.{_shown(key)}", depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            return FieldError(path, f"{path} must be a number (NaN and Infinity are not JSON)")
        elif _is_int(value) and value.bit_length() > 64:
            return FieldError(path, f"{path} is an integer larger than 64 bits")
        elif isinstance(value, str) and not _is_unicode(value):
            return FieldError(path, f"{path} must be valid Unicode text")
        elif value is not None and not isinstance(value, str | int | float | bool):
            return FieldError(path, f"{path} is not a JSON value")
    return None


def _is_token_id(value) -> bool:
    return _is_int(value) and 0 <= value <= INT64_MAX


def _optional(obj, key, ok, path, rule, errors):
    """Report obj[key] unless it is absent, null, or passes ok()."""
    value = obj.get(key)
    if value is not None and not ok(value):
        _add(errors, f"{path}.{key}", f"{path}.{key} {rule}")


# --- completions ---------------------------------------------------------------


def _check_prompt(f, value, errors):
    if isinstance(value, str):
        return
    if isinstance(value, list) and value:
        if all(isinstance(item, str) for item in value):
            return
        if all(_is_token_id(item) for item in value):
            return
        if all(isinstance(item, list) and item and all(map(_is_token_id, item)) for item in value):
            return
    if value == []:
        _add(errors, f.name, "prompt must not be empty")
    else:
        _add(
            errors,
            f.name,
            "prompt must be a string, an array of strings, an array of token ids "
            "or an array of token id arrays",
        )


# --- shared ----------------------------------------------------------------------


def _check_stop(f, value, errors):
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        _add(errors, f.name, f"{f.name} must be a string or an array of strings")
    elif len(value) < f.min_items:
        _add(errors, f.name, f"{f.name} must not be an empty array")
    elif len(value) > f.max_items:
        _add(errors, f.name, f"{f.name} accepts at most {f.max_items} sequences")


def _check_logit_bias(f, value, errors):
    if not isinstance(value, dict):
        _add(errors, f.name, "logit_bias must be an object mapping token ids to bias values")
        return
    if not all(isinstance(key, str) and _TOKEN_ID_KEY.fullmatch(key) for key in value):
        _add(errors, f.name, "logit_bias keys must be token ids")
    biases = value.values()
    if not all(_is_int(bias) for bias in biases):
        _add(errors, f.name, "logit_bias values must be integers")
    elif not all(_in_range(f, bias) for bias in biases):
        _add(errors, f.name, f"logit_bias values must be {f.range_text}")


def _check_stream_options(f, value, errors):
    if not isinstance(value, dict):
        _add(errors, f.name, "stream_options must be an object")
        return
    _optional(value, "include_usage", lambda v: isinstance(v, bool), f.name, "must be a boolean",
              errors)


# --- chat: messages ----------------------------------------------------------------


def _check_messages(f, value, errors):
    if not isinstance(value, list):
        _add(errors, f.name, "messages must be an array of messages")
    elif not value:
        _add(errors, f.name, "messages must not be empty")
    else:
        for i, message in enumerate(value):
            _check_message(message, f"messages[{i}]", errors)


def _check_message(message, path, errors):
    if not isinstance(message, dict):
        _add(errors, path, f"{path} must be an object with a role")
        return
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:
        _add(errors, f"{path}.role", f"{path}.role must be one of {', '.join(ROLES)}")
        return

    tool_calls = message.get("tool_calls")
    content = message.get("content")
    if content is not None:
        _check_content(content, f"{path}.content", errors)
    elif role == "assistant":
        # An assistant turn that only calls tools has no text.
        if not tool_calls:
            _add(errors, f"{path}.content", "an assistant message needs content or tool_calls")
    else:
        _add(errors, f"{path}.content", f"a {role} message needs content")

    _optional(message, "name", lambda v: isinstance(v, str), path, "must be a string", errors)

    if tool_calls is not None:
        if role == "assistant":
            _check_tool_calls(tool_calls, f"{path}.tool_calls", errors)
        else:
            _add(errors, f"{path}.tool_calls", "only an assistant message can have tool_calls")

    tool_call_id = message.get("tool_call_id")
    if role == "tool":
        if tool_call_id is None:
            _add(errors, f"{path}.tool_call_id", "a tool message needs tool_call_id")
        elif not isinstance(tool_call_id, str):
            _add(errors, f"{path}.tool_call_id", f"{path}.tool_call_id must be a string")
    elif tool_call_id is not None:
        _add(errors, f"{path}.tool_call_id", "only a tool message can have tool_call_id")


def _check_content(content, path, errors):
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        _add(errors, path, f"{path} must be a string or an array of content blocks")
    elif not content:
        _add(errors, path, f"{path} must not be an empty array")
    else:
        for i, block in enumerate(content):
            _check_content_block(block, f"{path}[{i}]", errors)


def _check_content_block(block, path, errors):
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        _add(errors, path, f"{path} must be a content block with a type")
    elif block["type"] == "text":
        if not isinstance(block.get("text"), str):
            _add(errors, f"{path}.text", f"{path}.text must be a string")
    elif block["type"] == "image_url":
        image = block.get("image_url")
        if not isinstance(image, dict) or not isinstance(image.get("url"), str):
            _add(errors, f"{path}.image_url.url", f"{path}.image_url.url must be a string")
    # Other block types (input_audio, file, ...) pass through: see the docstring.


def _check_tool_calls(tool_calls, path, errors):
    if not isinstance(tool_calls, list):
        _add(errors, path, f"{path} must be an array of tool calls")
        return
    for i, call in enumerate(tool_calls):
        here = f"{path}[{i}]"
        if not isinstance(call, dict):
            _add(errors, here, f"{here} must be an object")
            continue
        if not isinstance(call.get("id"), str):
            _add(errors, f"{here}.id", f"{here}.id must be a string")
        if call.get("type") != "function":
            _add(errors, f"{here}.type", f'{here}.type must be "function"')
        function = call.get("function")
        if not isinstance(function, dict):
            _add(errors, f"{here}.function", f"{here}.function must be an object")
            continue
        if not isinstance(function.get("name"), str):
            _add(errors, f"{here}.function.name", f"{here}.function.name must be a string")
        if not isinstance(function.get("arguments"), str):
            _add(
                errors,
                f"{here}.function.arguments",
                f"{here}.function.arguments must be a string (JSON text)",
            )


# --- chat: tools and formats ---------------------------------------------------------


def _check_tools(f, value, errors):
    if not isinstance(value, list):
        _add(errors, f.name, "tools must be an array of tools")
        return
    if not value:
        _add(errors, f.name, "tools must not be empty")
    for i, tool in enumerate(value):
        here = f"tools[{i}]"
        if not isinstance(tool, dict):
            _add(errors, here, f"{here} must be an object")
            continue
        if tool.get("type") != "function":
            _add(errors, f"{here}.type", f'{here}.type must be "function"')
        function = tool.get("function")
        if not isinstance(function, dict):
            _add(errors, f"{here}.function", f"{here}.function must be an object")
            continue
        name = function.get("name")
        if not (isinstance(name, str) and _NAME.fullmatch(name)):
            _add(errors, f"{here}.function.name", f"{here}.function.name {_NAME_RULE}")
        here = f"{here}.function"
        _optional(function, "description", lambda v: isinstance(v, str), here,
                  "must be a string", errors)
        _optional(function, "parameters", lambda v: isinstance(v, dict), here,
                  "must be a JSON object (a JSON Schema)", errors)
        _optional(function, "strict", lambda v: isinstance(v, bool), here,
                  "must be a boolean", errors)


def _check_tool_choice(f, value, errors):
    if isinstance(value, str) and value in f.choices:
        return
    if (
        isinstance(value, dict)
        and value.get("type") == "function"
        and isinstance(value.get("function"), dict)
        and isinstance(value["function"].get("name"), str)
    ):
        return
    _add(
        errors,
        f.name,
        'tool_choice must be "none", "auto", "required" or '
        '{"type": "function", "function": {"name": ...}}',
    )


def _check_response_format(f, value, errors):
    if not isinstance(value, dict):
        _add(errors, f.name, "response_format must be an object with a type")
        return
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in f.choices:
        _add(errors, "response_format.type",
             f"response_format.type must be one of {', '.join(f.choices)}")
        return
    if kind != "json_schema":
        return
    here = "response_format.json_schema"
    schema = value.get("json_schema")
    if not isinstance(schema, dict):
        _add(errors, here, f"{here} must be an object with a name and a schema")
        return
    name = schema.get("name")
    if not (isinstance(name, str) and _NAME.fullmatch(name)):
        _add(errors, f"{here}.name", f"{here}.name {_NAME_RULE}")
    if not isinstance(schema.get("schema"), dict):
        _add(errors, f"{here}.schema", f"{here}.schema must be a JSON object (a JSON Schema)")
    _optional(schema, "description", lambda v: isinstance(v, str), here, "must be a string",
              errors)
    _optional(schema, "strict", lambda v: isinstance(v, bool), here, "must be a boolean", errors)


# --- chat: OpenAI's newer fields (beyond the seeds) ----------------------------------


def _one_of(choices):
    return lambda v: isinstance(v, str) and v in choices


def _rule_one_of(choices):
    return f"must be one of {', '.join(choices)}"


METADATA_KEY_LENGTH = 64


def _check_metadata(f, value, errors):
    if not isinstance(value, dict):
        _add(errors, f.name, "metadata must be an object of string keys and string values")
    elif len(value) > f.max_items:
        _add(errors, f.name, f"metadata has at most {f.max_items} key-value pairs")
    elif not all(isinstance(k, str) and len(k) <= METADATA_KEY_LENGTH for k in value):
        _add(errors, f.name, f"metadata keys must be at most {METADATA_KEY_LENGTH} characters")
    elif not all(isinstance(v, str) for v in value.values()):
        _add(errors, f.name, "metadata values must be strings")
    elif not all(len(v) <= f.max_length for v in value.values()):
        _add(errors, f.name, f"metadata values must be at most {f.max_length} characters")


def _check_modalities(f, value, errors):
    rule = f"modalities must be an array of {' and '.join(map(repr, f.choices))}"
    if not isinstance(value, list) or not all(_one_of(f.choices)(v) for v in value):
        _add(errors, f.name, rule.replace("'", '"'))
    elif not value:
        _add(errors, f.name, "modalities must not be empty")
    elif len(set(value)) != len(value):
        _add(errors, f.name, "modalities must not repeat a value")


def _check_prediction(f, value, errors):
    if not isinstance(value, dict) or value.get("type") != "content":
        _add(errors, f.name, 'prediction must be {"type": "content", "content": ...}')
        return
    content = value.get("content")
    if isinstance(content, str):
        return
    if (
        isinstance(content, list)
        and content
        and all(isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
                for b in content)
    ):
        return
    _add(errors, "prediction.content",
         "prediction.content must be a string or an array of text content parts")


def _check_audio(f, value, errors):
    if not isinstance(value, dict):
        _add(errors, f.name, "audio must be an object with a voice and a format")
        return
    if not _one_of(f.choices)(value.get("format")):
        _add(errors, "audio.format", f"audio.format {_rule_one_of(f.choices)}")
    voice = value.get("voice")
    named = isinstance(voice, dict) and isinstance(voice.get("id"), str)
    if not (isinstance(voice, str) or named):
        _add(errors, "audio.voice", 'audio.voice must be a voice name or {"id": ...}')


def _check_moderation(f, value, errors):
    if not isinstance(value, dict) or not isinstance(value.get("model"), str):
        _add(errors, f.name, 'moderation must be an object with a model, e.g. '
             '{"model": "omni-moderation-latest"}')
        return
    policy = value.get("policy")
    if policy is None:
        return
    if not isinstance(policy, dict):
        _add(errors, "moderation.policy", "moderation.policy must be an object")
        return
    for side in ("input", "output"):
        here = f"moderation.policy.{side}"
        rule = f"{here} must be {{\"mode\": \"score\"}} or {{\"mode\": \"block\"}}"
        part = policy.get(side)
        ok = isinstance(part, dict) and _one_of(f.choices)(part.get("mode"))
        if part is not None and not ok:
            _add(errors, here, rule)


PROMPT_CACHE_MODES = ("implicit", "explicit")
PROMPT_CACHE_TTLS = ("30m",)


def _check_prompt_cache_options(f, value, errors):
    if not isinstance(value, dict):
        _add(errors, f.name, "prompt_cache_options must be an object")
        return
    _optional(value, "mode", _one_of(PROMPT_CACHE_MODES), f.name,
              _rule_one_of(PROMPT_CACHE_MODES), errors)
    _optional(value, "ttl", _one_of(PROMPT_CACHE_TTLS), f.name, _rule_one_of(PROMPT_CACHE_TTLS),
              errors)


def _check_web_search_options(f, value, errors):
    if not isinstance(value, dict):
        _add(errors, f.name, "web_search_options must be an object")
        return
    _optional(value, "search_context_size", _one_of(f.choices), f.name, _rule_one_of(f.choices),
              errors)
    location = value.get("user_location")
    if location is not None and not (
        isinstance(location, dict)
        and location.get("type") == "approximate"
        and isinstance(location.get("approximate"), dict)
    ):
        _add(errors, "web_search_options.user_location",
             'web_search_options.user_location must be {"type": "approximate", '
             '"approximate": {...}}')


_STRUCTURED_CHECKS = {
    "prompt": _check_prompt,
    "stop": _check_stop,
    "logit_bias": _check_logit_bias,
    "stream_options": _check_stream_options,
    "messages": _check_messages,
    "tools": _check_tools,
    "tool_choice": _check_tool_choice,
    "response_format": _check_response_format,
    "metadata": _check_metadata,
    "modalities": _check_modalities,
    "prediction": _check_prediction,
    "audio": _check_audio,
    "moderation": _check_moderation,
    "prompt_cache_options": _check_prompt_cache_options,
    "web_search_options": _check_web_search_options,
}


# --- rules between fields ----------------------------------------------------------


def _combination_errors(clean: dict, bad: set) -> list[FieldError]:
    """Rules that involve two fields. They run on valid values only; a field
    that is set but invalid (in bad) was reported already and is not treated
    as absent."""
    errors = []

    def absent(name):
        return name not in clean and name not in bad

    if "best_of" in clean and "n" in clean and clean["best_of"] < clean["n"]:
        _add(errors, "best_of", "best_of must be greater than or equal to n")
    if clean.get("best_of", 1) > 1 and clean.get("stream") is True:
        _add(errors, "best_of", "best_of cannot be used when stream is true")

    if "top_logprobs" in clean and clean.get("logprobs") is not True and "logprobs" not in bad:
        _add(errors, "top_logprobs", "top_logprobs requires logprobs to be true")

    if "stream_options" in clean and clean.get("stream") is not True and "stream" not in bad:
        _add(errors, "stream_options", "stream_options is only allowed when stream is true")

    for name in ("tool_choice", "parallel_tool_calls"):
        if name in clean and absent("tools"):
            _add(errors, name, f"{name} requires tools")
    if "audio" in clean.get("modalities", ()) and absent("audio"):
        _add(errors, "audio", 'audio is required when modalities includes "audio"')

    choice = clean.get("tool_choice")
    if isinstance(choice, dict) and "tools" in clean:
        names = {tool["function"]["name"] for tool in clean["tools"]}
        if choice["function"]["name"] not in names:
            _add(errors, "tool_choice.function.name",
                 "tool_choice.function.name must name one of the tools")
    return errors
