import pytest

from apps.catalog.templating import (
    MissingVariable,
    body_names,
    is_template,
    names,
    render,
    render_body,
)


def test_it_fills_variables_with_or_without_spaces():
    values = {"name": "Ada", "place": "Paris"}
    assert render("Hi {{name}}, {{ place }}!", values) == "Hi Ada, Paris!"


def test_it_lists_variables_once_in_order():
    assert names("{{b}} {{a}} {{ b }}") == ["b", "a"]


def test_it_renders_escaped_braces_as_text():
    assert render(r"literal \{{name}} and {{name}}", {"name": "x"}) == "literal {{name}} and x"
    assert names(r"\{{name}}") == []


def test_it_leaves_text_that_is_not_a_variable():
    assert render("{{ 1 }} {{ }} }} {", {}) == "{{ 1 }} {{ }} }} {"


def test_it_names_a_missing_variable_and_its_field():
    with pytest.raises(MissingVariable) as e:
        render_body({"messages": [{"role": "user", "content": "Hi {{who}}"}]}, {})
    assert e.value.name == "who"
    assert str(e.value) == 'messages[0].content: the template variable "who" has no value'


def test_it_renders_prompt_suffix_and_every_message():
    body = {
        "prompt": ["A {{x}}", "B {{y}}"],
        "suffix": "end {{x}}",
        "temperature": 1,
    }
    assert body_names(body) == ["x", "y"]
    assert render_body(body, {"x": 1, "y": "two"}) == {
        "prompt": ["A 1", "B two"], "suffix": "end 1", "temperature": 1,
    }
    assert body["prompt"] == ["A {{x}}", "B {{y}}"]  # the template is untouched
    chat = {"messages": [
        {"role": "system", "content": "Be {{tone}}"},
        {"role": "user", "content": [{"type": "text", "text": "Say {{what}}"}]},
    ]}
    assert render_body(chat, {"tone": "brief", "what": "hi"})["messages"][1]["content"] == [
        {"type": "text", "text": "Say hi"}
    ]


def test_it_tells_a_template_from_plain_text():
    assert is_template({"prompt": "{{a}}"})
    assert not is_template({"prompt": "plain {braces}"})
