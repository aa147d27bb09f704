import json

import pytest

from apps.catalog import (
    BEYOND_SEEDS,
    DOCUMENTS,
    ENDPOINTS,
    FIELDS,
    GROUPS,
    Field,
    Source,
    field,
    fields_for,
)

COMPLETIONS = """model prompt suffix max_tokens temperature top_p n stream stream_options logprobs
echo stop presence_penalty frequency_penalty repetition_penalty best_of logit_bias user seed
ignore_eos""".split()
CHAT = """model messages temperature max_tokens max_completion_tokens top_p frequency_penalty
presence_penalty repetition_penalty stream stream_options n stop response_format seed logprobs
top_logprobs logit_bias tools tool_choice parallel_tool_calls user""".split()
# Beyond the seed documents: what OpenAI's current SDK sends on chat.
CHAT_NEWER = """metadata store reasoning_effort verbosity service_tier prediction modalities
audio prompt_cache_key prompt_cache_retention prompt_cache_options safety_identifier moderation
web_search_options""".split()


def test_it_has_exactly_the_fields_of_both_bodies():
    assert ENDPOINTS == ("completions", "chat")
    assert sorted(f.name for f in fields_for("completions")) == sorted(COMPLETIONS)
    assert sorted(f.name for f in fields_for("chat")) == sorted(CHAT + CHAT_NEWER)
    assert len(FIELDS) == len(COMPLETIONS) + len(CHAT) + len(CHAT_NEWER)


def test_it_marks_the_second_tier_as_beyond_the_seeds_in_a_group_of_its_own():
    newer = [f for f in FIELDS if f.beyond_seeds]
    assert sorted(f.name for f in newer) == sorted(CHAT_NEWER)
    assert {f.group for f in newer} == {"newer"}
    assert all(f.group != "newer" for f in FIELDS if not f.beyond_seeds)
    assert all(f.sources == (Source(BEYOND_SEEDS, f.sources[0].says),) for f in newer)
    assert "beyond the seed documents" in DOCUMENTS[BEYOND_SEEDS]
    assert field("chat", "metadata").as_dict()["beyond_seeds"] is True
    assert field("chat", "temperature").as_dict()["beyond_seeds"] is False


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_lists_fields_in_form_order_grouped(endpoint):
    fields = fields_for(endpoint)
    positions = [GROUPS.index(f.group) for f in fields]
    assert positions == sorted(positions)
    assert fields[0].name == "model"
    assert {f.group for f in fields} == set(GROUPS) - ({"newer"} if endpoint == "completions"
                                                        else set())


def test_it_models_a_field_that_differs_per_endpoint_as_two_entries():
    assert field("completions", "logprobs").kind == "integer"
    assert field("completions", "logprobs").maximum == 5
    assert field("chat", "logprobs").kind == "boolean"
    assert field("completions", "temperature").default == 1
    assert field("chat", "temperature").default is None  # "model default"


def test_it_puts_inputs_in_the_input_group():
    assert {f.name for f in FIELDS if f.group == "input"} == {
        "model", "prompt", "messages", "suffix"}


def test_it_refuses_an_unknown_field_or_endpoint():
    with pytest.raises(KeyError, match="xyz is not a field of /v1/chat/completions"):
        field("chat", "xyz")
    with pytest.raises(KeyError):
        field("chat", "prompt")
    with pytest.raises(ValueError):
        fields_for("embeddings")


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f"{f.endpoint}.{f.name}")
def test_it_describes_every_field_for_a_form(f):
    assert f.help and f.label and f.widget and f.sources
    assert all(s.doc in DOCUMENTS and s.says for s in f.sources)
    if f.minimum is not None or f.maximum is not None or f.max_items is not None:
        assert f.enforced_source in {s.doc for s in f.sources}
    if f.enforced_source is None:
        assert (f.minimum, f.maximum, f.max_items) == (None, None, None)


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f"{f.endpoint}.{f.name}")
def test_it_renders_every_field_as_plain_json(f):
    data = f.as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["name"] == f.name and data["enforced_source"] == f.enforced_source
    assert {"label", "help", "group", "kind", "widget", "minimum", "maximum",
            "exclusive_minimum", "default", "choices", "max_items", "sources"} <= set(data)


def test_it_renders_sources_and_the_range_in_words():
    data = field("chat", "repetition_penalty").as_dict()
    assert data["range"] == "greater than 0"
    assert data["sources"] == [{"doc": "002", "title": DOCUMENTS["002"],
                                "says": "Penalize token repetition (> 0.0). Default: 1.0"}]
    assert field("chat", "temperature").range_text == "between 0 and 2"
    assert field("completions", "max_tokens").range_text == "at least 0"
    assert field("chat", "tool_choice").as_dict()["choices"] == ["none", "auto", "required"]
    assert field("chat", "stop").as_dict()["max_items"] == 4


def test_it_catches_a_typo_in_the_table_at_import_time():
    with pytest.raises(ValueError, match="bad group 'sampeling'"):
        Field("x", "chat", "number", "sampeling", help="h", sources=(Source("002", "x"),))
    with pytest.raises(ValueError, match="enforced_source '003' is not among its sources"):
        Field("x", "chat", "number", "sampling", help="h", sources=(Source("002", "x"),),
              minimum=0, enforced_source="003")
