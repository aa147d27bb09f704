import pytest

from apps.catalog import validate

from .bodies import chat, errors

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": True,
    },
}
NAME_RULE = "must be 1 to 64 letters, digits, underscores or dashes"


def test_it_accepts_function_tools():
    tools = [WEATHER, {"type": "function", "function": {"name": "now"}}]
    assert validate("chat", chat(tools=tools))["tools"] == tools


@pytest.mark.parametrize("name", ["a", "A-b_9", "x" * 64])
def test_it_accepts_documented_function_names(name):
    tools = [{"type": "function", "function": {"name": name}}]
    assert validate("chat", chat(tools=tools))


@pytest.mark.parametrize("name", ["", "x" * 65, "get weather", "wetter.heute", "météo", None, 5,
                                  "a\n"])
def test_it_rejects_other_function_names(name):
    tools = [{"type": "function", "function": {"name": name}}]
    assert errors("chat", chat(tools=tools)) == [
        ("tools[0].function.name", f"tools[0].function.name {NAME_RULE}")]


@pytest.mark.parametrize(("tools", "expected"), [
    ([], [("tools", "tools must not be empty")]),
    (WEATHER, [("tools", "tools must be an array of tools")]),
    ("get_weather", [("tools", "tools must be an array of tools")]),
    (["get_weather"], [("tools[0]", "tools[0] must be an object")]),
    ([[WEATHER]], [("tools[0]", "tools[0] must be an object")]),
    ([{"type": "retrieval", "function": WEATHER["function"]}],
     [("tools[0].type", 'tools[0].type must be "function"')]),
    ([{"type": "function"}], [("tools[0].function", "tools[0].function must be an object")]),
    ([{"type": "function", "function": ["get_weather"]}],
     [("tools[0].function", "tools[0].function must be an object")]),
    ([{"type": "function", "function": {"name": "f", "description": 5}}],
     [("tools[0].function.description", "tools[0].function.description must be a string")]),
    ([{"type": "function", "function": {"name": "f", "parameters": "{}"}}],
     [("tools[0].function.parameters",
       "tools[0].function.parameters must be a JSON object (a JSON Schema)")]),
    ([{"type": "function", "function": {"name": "f", "parameters": []}}],
     [("tools[0].function.parameters",
       "tools[0].function.parameters must be a JSON object (a JSON Schema)")]),
    ([{"type": "function", "function": {"name": "f", "strict": "true"}}],
     [("tools[0].function.strict", "tools[0].function.strict must be a boolean")]),
    ([WEATHER, {"function": {}}], [
        ("tools[1].type", 'tools[1].type must be "function"'),
        ("tools[1].function.name", f"tools[1].function.name {NAME_RULE}"),
    ]),
])
def test_it_rejects_malformed_tools(tools, expected):
    assert errors("chat", chat(tools=tools)) == expected


@pytest.mark.parametrize("choice", [
    "none", "auto", "required", {"type": "function", "function": {"name": "get_weather"}},
])
def test_it_accepts_a_documented_tool_choice(choice):
    assert validate("chat", chat(tools=[WEATHER], tool_choice=choice))["tool_choice"] == choice


CHOICE_RULE = ('tool_choice must be "none", "auto", "required" or '
               '{"type": "function", "function": {"name": ...}}')


@pytest.mark.parametrize("choice", [
    "any", "", "get_weather", 1, True, ["auto"], {"type": "function"},
    {"function": {"name": "get_weather"}}, {"type": "function", "function": "get_weather"},
    {"type": "function", "function": {"name": 5}},
])
def test_it_rejects_other_tool_choices(choice):
    assert errors("chat", chat(tools=[WEATHER], tool_choice=choice)) == [
        ("tool_choice", CHOICE_RULE)]


def test_it_requires_the_named_tool_to_exist():
    choice = {"type": "function", "function": {"name": "get_time"}}
    assert errors("chat", chat(tools=[WEATHER], tool_choice=choice)) == [
        ("tool_choice.function.name", "tool_choice.function.name must name one of the tools")]


@pytest.mark.parametrize("choice", ["none", "auto", {"type": "function",
                                                    "function": {"name": "get_weather"}}])
def test_it_refuses_tool_choice_without_tools(choice):
    assert errors("chat", chat(tool_choice=choice)) == [
        ("tool_choice", "tool_choice requires tools")]


def test_it_refuses_parallel_tool_calls_without_tools():
    assert errors("chat", chat(parallel_tool_calls=False)) == [
        ("parallel_tool_calls", "parallel_tool_calls requires tools")]
    ok = chat(tools=[WEATHER], parallel_tool_calls=False)
    assert validate("chat", ok)["parallel_tool_calls"] is False


def test_it_does_not_blame_tool_choice_when_the_tools_are_the_problem():
    # tools is set but invalid: one error, on tools, not "tool_choice requires tools".
    assert errors("chat", chat(tools="get_weather", tool_choice="auto")) == [
        ("tools", "tools must be an array of tools")]
