import pytest

from apps.catalog import validate

from .bodies import HELLO, chat, errors

CALL = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}


def test_it_accepts_a_conversation_with_every_role():
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?", "name": "ana"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
        {"role": "assistant", "content": "21 degrees."},
    ]
    assert validate("chat", chat(messages=conversation))["messages"] == conversation


def test_it_accepts_content_blocks():
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
    ]
    message = {"role": "user", "content": content}
    assert validate("chat", chat(messages=[message]))["messages"] == [message]


def test_it_passes_unknown_block_types_and_keys_through():
    # Providers add these often; the upstream is their judge.
    message = {"role": "assistant", "content": "hi", "annotations": []}
    audio = {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x"}}]}
    assert validate("chat", chat(messages=[audio, message]))["messages"] == [audio, message]


def test_it_leaves_out_null_message_keys_but_not_null_content():
    # What an SDK sends when it replays a response message; "name": null made
    # llama.cpp fail with a 500 ("type must be string, but is null").
    replayed = {"role": "assistant", "content": None, "refusal": None, "name": None,
                "tool_calls": [{"id": "c", "type": "function",
                                "function": {"name": "f", "arguments": "{}"}}]}
    user = {"role": "user", "content": "hi", "name": None}
    clean = validate("chat", chat(messages=[user, replayed]))["messages"]
    assert clean == [{"role": "user", "content": "hi"},
                     {"role": "assistant", "content": None, "tool_calls": replayed["tool_calls"]}]


def test_it_accepts_the_developer_role():
    # OpenAI's current name for system.
    message = {"role": "developer", "content": "Be brief."}
    assert validate("chat", chat(messages=[message, *HELLO]))["messages"][0] == message


def test_it_lets_an_assistant_message_with_tool_calls_omit_content():
    message = {"role": "assistant", "tool_calls": [CALL]}
    assert validate("chat", chat(messages=[message]))


@pytest.mark.parametrize(("messages", "expected"), [
    ([], [("messages", "messages must not be empty")]),
    ("hi", [("messages", "messages must be an array of messages")]),
    ({"role": "user", "content": "hi"}, [("messages", "messages must be an array of messages")]),
    (["hi"], [("messages[0]", "messages[0] must be an object with a role")]),
    ([[{"role": "user"}]], [("messages[0]", "messages[0] must be an object with a role")]),
    ([{"content": "hi"}], [("messages[0].role",
      "messages[0].role must be one of developer, system, user, assistant, tool")]),
    ([{"role": "admin", "content": "hi"}],
     [("messages[0].role",
       "messages[0].role must be one of developer, system, user, assistant, tool")]),
    ([{"role": ["user"], "content": "hi"}],
     [("messages[0].role",
       "messages[0].role must be one of developer, system, user, assistant, tool")]),
])
def test_it_rejects_messages_that_are_not_a_list_of_messages(messages, expected):
    assert errors("chat", chat(messages=messages)) == expected


@pytest.mark.parametrize(("message", "expected"), [
    ({"role": "user"}, ("messages[0].content", "a user message needs content")),
    ({"role": "system", "content": None},
     ("messages[0].content", "a system message needs content")),
    ({"role": "assistant"},
     ("messages[0].content", "an assistant message needs content or tool_calls")),
    ({"role": "assistant", "tool_calls": []},
     ("messages[0].content", "an assistant message needs content or tool_calls")),
    ({"role": "user", "content": 5},
     ("messages[0].content", "messages[0].content must be a string or an array of content blocks")),
    ({"role": "user", "content": {"type": "text", "text": "hi"}},
     ("messages[0].content", "messages[0].content must be a string or an array of content blocks")),
    ({"role": "user", "content": []},
     ("messages[0].content", "messages[0].content must not be an empty array")),
    ({"role": "user", "content": ["hi"]},
     ("messages[0].content[0]", "messages[0].content[0] must be a content block with a type")),
    ({"role": "user", "content": [{"text": "hi"}]},
     ("messages[0].content[0]", "messages[0].content[0] must be a content block with a type")),
    ({"role": "user", "content": [{"type": "text"}]},
     ("messages[0].content[0].text", "messages[0].content[0].text must be a string")),
    ({"role": "user", "content": [{"type": "text", "text": ["hi"]}]},
     ("messages[0].content[0].text", "messages[0].content[0].text must be a string")),
    ({"role": "user", "content": [{"type": "image_url", "image_url": "http://x/y.png"}]},
     ("messages[0].content[0].image_url.url",
      "messages[0].content[0].image_url.url must be a string")),
    ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": None}}]},
     ("messages[0].content[0].image_url.url",
      "messages[0].content[0].image_url.url must be a string")),
    ({"role": "user", "content": "hi", "name": 5},
     ("messages[0].name", "messages[0].name must be a string")),
])
def test_it_checks_content_and_name(message, expected):
    assert errors("chat", chat(messages=[message])) == [expected]


def test_it_names_the_message_an_error_is_in():
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
        {"role": "tool", "content": "21"},
    ]
    assert errors("chat", chat(messages=conversation)) == [
        ("messages[2].tool_call_id", "a tool message needs tool_call_id")]


@pytest.mark.parametrize(("message", "expected"), [
    ({"role": "tool", "content": "21", "tool_call_id": 1},
     ("messages[0].tool_call_id", "messages[0].tool_call_id must be a string")),
    ({"role": "user", "content": "hi", "tool_call_id": "call_1"},
     ("messages[0].tool_call_id", "only a tool message can have tool_call_id")),
    ({"role": "assistant", "content": "hi", "tool_call_id": "call_1"},
     ("messages[0].tool_call_id", "only a tool message can have tool_call_id")),
    ({"role": "user", "content": "hi", "tool_calls": [CALL]},
     ("messages[0].tool_calls", "only an assistant message can have tool_calls")),
    ({"role": "tool", "content": "hi", "tool_call_id": "c", "tool_calls": [CALL]},
     ("messages[0].tool_calls", "only an assistant message can have tool_calls")),
])
def test_it_keeps_tool_call_ids_on_tool_messages_and_calls_on_assistant_ones(message, expected):
    assert errors("chat", chat(messages=[message])) == [expected]


@pytest.mark.parametrize(("tool_calls", "expected"), [
    (CALL, [("messages[0].tool_calls", "messages[0].tool_calls must be an array of tool calls")]),
    (["call_1"], [("messages[0].tool_calls[0]", "messages[0].tool_calls[0] must be an object")]),
    ([{**CALL, "id": 1}], [("messages[0].tool_calls[0].id",
                            "messages[0].tool_calls[0].id must be a string")]),
    ([{**CALL, "type": "code"}], [("messages[0].tool_calls[0].type",
                                   'messages[0].tool_calls[0].type must be "function"')]),
    ([{**CALL, "function": "weather()"}],
     [("messages[0].tool_calls[0].function",
       "messages[0].tool_calls[0].function must be an object")]),
    ([{**CALL, "function": {"name": "weather", "arguments": {"city": "Paris"}}}],
     [("messages[0].tool_calls[0].function.arguments",
       "messages[0].tool_calls[0].function.arguments must be a string (JSON text)")]),
    ([{"function": {}}], [
        ("messages[0].tool_calls[0].id", "messages[0].tool_calls[0].id must be a string"),
        ("messages[0].tool_calls[0].type", 'messages[0].tool_calls[0].type must be "function"'),
        ("messages[0].tool_calls[0].function.name",
         "messages[0].tool_calls[0].function.name must be a string"),
        ("messages[0].tool_calls[0].function.arguments",
         "messages[0].tool_calls[0].function.arguments must be a string (JSON text)"),
    ]),
])
def test_it_checks_an_assistants_tool_calls(tool_calls, expected):
    message = {"role": "assistant", "content": None, "tool_calls": tool_calls}
    assert errors("chat", chat(messages=[message])) == expected


def test_it_reports_errors_in_several_messages_at_once():
    conversation = [{"role": "user"}, {"role": "bot", "content": "hi"}, "hello"]
    assert [f for f, _message in errors("chat", chat(messages=conversation))] == [
        "messages[0].content", "messages[1].role", "messages[2]"]
