"""OpenAI's newer chat fields (beyond the seed documents): types, ranges and enums."""

import pytest

from apps.catalog import field, validate

from .bodies import chat, errors

VALID = [
    ("metadata", {}),
    ("metadata", {f"k{i}": "v" for i in range(16)}),
    ("metadata", {"k" * 64: "v" * 512}),
    ("store", True),
    ("store", False),
    *[("reasoning_effort", v)
      for v in ("none", "minimal", "low", "medium", "high", "xhigh", "max")],
    *[("verbosity", v) for v in ("low", "medium", "high")],
    *[("service_tier", v) for v in ("auto", "default", "flex", "scale", "priority", "fast")],
    ("prediction", {"type": "content", "content": "def f(): pass"}),
    ("prediction", {"type": "content", "content": [{"type": "text", "text": "x"}]}),
    ("modalities", ["text"]),
    ("prompt_cache_key", "tenant-7"),
    ("prompt_cache_retention", "in_memory"),
    ("prompt_cache_retention", "24h"),
    ("prompt_cache_options", {"mode": "explicit", "ttl": "30m"}),
    ("safety_identifier", "h" * 128),
    ("moderation", {"model": "omni-moderation-latest"}),
    ("moderation", {"model": "m", "policy": {"input": {"mode": "score"},
                                             "output": {"mode": "block"}}}),
    ("web_search_options", {"search_context_size": "low"}),
    ("web_search_options", {"user_location": {"type": "approximate",
                                              "approximate": {"city": "Lyon"}}}),
]


@pytest.mark.parametrize(("name", "value"), VALID)
def test_it_accepts_and_sends_each_newer_value_as_given(name, value):
    assert validate("chat", chat(**{name: value}))[name] == value


def test_it_accepts_audio_output_with_its_parameters():
    body = chat(modalities=["text", "audio"], audio={"voice": "alloy", "format": "wav"})
    assert validate("chat", body)["audio"] == {"voice": "alloy", "format": "wav"}
    body = chat(audio={"voice": {"id": "voice_123"}, "format": "pcm16"})
    assert validate("chat", body)["audio"]["voice"] == {"id": "voice_123"}


INVALID = [
    ("metadata", [], "metadata must be an object of string keys and string values"),
    ("metadata", {f"k{i}": "v" for i in range(17)}, "metadata has at most 16 key-value pairs"),
    ("metadata", {"k" * 65: "v"}, "metadata keys must be at most 64 characters"),
    ("metadata", {"k": 1}, "metadata values must be strings"),
    ("metadata", {"k": "v" * 513}, "metadata values must be at most 512 characters"),
    ("store", "yes", "store must be a boolean"),
    ("reasoning_effort", "extreme",
     "reasoning_effort must be one of none, minimal, low, medium, high, xhigh, max"),
    ("reasoning_effort", 3,
     "reasoning_effort must be one of none, minimal, low, medium, high, xhigh, max"),
    ("verbosity", "loud", "verbosity must be one of low, medium, high"),
    ("service_tier", "free",
     "service_tier must be one of auto, default, flex, scale, priority, fast"),
    ("prediction", "text", 'prediction must be {"type": "content", "content": ...}'),
    ("prediction", {"type": "content", "content": []},
     "prediction.content must be a string or an array of text content parts"),
    ("modalities", ["video"], 'modalities must be an array of "text" and "audio"'),
    ("modalities", "text", 'modalities must be an array of "text" and "audio"'),
    ("modalities", [], "modalities must not be empty"),
    ("modalities", ["text", "text"], "modalities must not repeat a value"),
    ("audio", "alloy", "audio must be an object with a voice and a format"),
    ("prompt_cache_key", 7, "prompt_cache_key must be a string"),
    ("prompt_cache_retention", "1h", "prompt_cache_retention must be one of in_memory, 24h"),
    ("prompt_cache_options", {"mode": "always"},
     "prompt_cache_options.mode must be one of implicit, explicit"),
    ("prompt_cache_options", {"ttl": "1h"}, "prompt_cache_options.ttl must be one of 30m"),
    ("safety_identifier", "h" * 129, "safety_identifier must be at most 128 characters"),
    ("moderation", {"policy": {}},
     'moderation must be an object with a model, e.g. {"model": "omni-moderation-latest"}'),
    ("moderation", {"model": "m", "policy": {"input": {"mode": "warn"}}},
     'moderation.policy.input must be {"mode": "score"} or {"mode": "block"}'),
    ("web_search_options", {"search_context_size": "huge"},
     "web_search_options.search_context_size must be one of low, medium, high"),
    ("web_search_options", {"user_location": {"city": "Lyon"}},
     'web_search_options.user_location must be {"type": "approximate", "approximate": {...}}'),
]


@pytest.mark.parametrize(("name", "value", "message"), INVALID)
def test_it_names_the_field_and_the_rule_for_each_newer_value(name, value, message):
    assert [m for _, m in errors("chat", chat(**{name: value}))] == [message]


@pytest.mark.parametrize(("audio", "where", "message"), [
    ({"voice": "alloy", "format": "ogg"}, "audio.format",
     "audio.format must be one of wav, aac, mp3, flac, opus, pcm16"),
    ({"format": "wav"}, "audio.voice", 'audio.voice must be a voice name or {"id": ...}'),
])
def test_it_checks_audios_voice_and_format(audio, where, message):
    assert errors("chat", chat(audio=audio)) == [(where, message)]


def test_it_requires_audio_parameters_for_audio_output():
    assert errors("chat", chat(modalities=["text", "audio"])) == [
        ("audio", 'audio is required when modalities includes "audio"')]


def test_it_sends_an_unset_or_null_newer_field_not_at_all():
    clean = validate("chat", chat(metadata=None, store=None, verbosity=None))
    assert set(clean) == {"model", "messages"}


def test_it_documents_the_limits_it_enforces():
    assert field("chat", "metadata").max_items == 16
    assert field("chat", "verbosity").default == "medium"
    assert field("chat", "reasoning_effort").choices[0] == "none"
    assert field("chat", "reasoning_effort").choices[-1] == "max"
