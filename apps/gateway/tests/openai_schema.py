"""Validating the gateway's answers against OpenAI's published response schemas
(openai_responses.json beside this file: its source, changes and licence are
in its "$comment")."""

import copy
import json
from pathlib import Path

import jsonschema

DOCUMENT = json.loads((Path(__file__).parent / "openai_responses.json").read_text())


def _schema(name):
    return {"$schema": DOCUMENT["$schema"], "$defs": DOCUMENT["$defs"],
            "$ref": f"#/$defs/{name}"}


def _completion_chunk():
    # OpenAI's document says a completions chunk has the response's shape, but
    # that shape allows neither a null finish_reason nor a null usage, while
    # OpenAI's streams send finish_reason null until a choice's last chunk, and
    # the same document's stream_options says "all other chunks will also
    # include a usage field, but with a null value". The chunk schema is the
    # response's with those two nulls allowed, and nothing else changed.
    document = copy.deepcopy(DOCUMENT)
    response = document["$defs"]["CreateCompletionResponse"]
    choice = response["properties"]["choices"]["items"]
    reason = choice["properties"]["finish_reason"]
    choice["properties"]["finish_reason"] = {"anyOf": [reason, {"type": "null"}]}
    response["properties"]["usage"] = {"anyOf": [response["properties"]["usage"],
                                                 {"type": "null"}]}
    return {"$schema": document["$schema"], "$defs": document["$defs"],
            "$ref": "#/$defs/CreateCompletionResponse"}


VALIDATORS = {
    name: jsonschema.Draft202012Validator(schema)
    for name, schema in {
        "completions": _schema("CreateCompletionResponse"),
        "chat": _schema("CreateChatCompletionResponse"),
        "completions.chunk": _completion_chunk(),
        "chat.chunk": _schema("CreateChatCompletionStreamResponse"),
        "models": _schema("ListModelsResponse"),
        "model": _schema("Model"),
        "error": _schema("ErrorResponse"),
    }.items()
}


def problems(name, instance) -> list[str]:
    """What OpenAI's schema rejects in instance ([] when it is valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}"
        for e in VALIDATORS[name].iter_errors(instance)
    ]


def check(name, instance):
    found = problems(name, instance)
    assert not found, f"OpenAI's {name} schema rejects the answer: {found}"
    return instance
