import pytest

from apps.catalog import FieldError, ValidationFailed, extras_of, validate

from .bodies import HELLO, chat, completions, errors, messages


def test_it_returns_only_the_fields_that_were_set():
    body = chat(temperature=0.7, max_tokens=None, logprobs=False, stop=None)
    assert validate("chat", body) == {
        "model": "m", "messages": HELLO, "temperature": 0.7, "logprobs": False}


def test_it_sends_the_documented_max_tokens_when_completions_leave_it_unset():
    # OpenAI's default is 16; llama.cpp's is "until the context is full".
    for body in (completions(), completions(max_tokens=None)):
        assert validate("completions", body)["max_tokens"] == 16
    assert validate("completions", completions(max_tokens=100))["max_tokens"] == 100
    assert "max_tokens" not in validate("chat", chat())


def test_it_takes_a_null_prompt_as_the_document_separator():
    # 003: prompt is required but nullable, default <|endoftext|>.
    assert validate("completions", completions(prompt=None))["prompt"] == "<|endoftext|>"


def test_it_keeps_exactly_what_was_set():
    body = chat(temperature=0, n=2, stop=["\n"], logit_bias={"50256": -100}, user="u-1",
                stream=True, stream_options={"include_usage": True})
    clean = validate("chat", body)
    assert clean == body
    assert type(clean["temperature"]) is int  # 0 stays 0: "View code" shows what was set


def test_it_lists_the_clean_body_in_form_order():
    body = {"stream": True, "messages": HELLO, "temperature": 1, "model": "m"}
    assert list(validate("chat", body)) == ["model", "messages", "temperature", "stream"]


def test_it_returns_a_clean_body_unchanged():
    clean = validate("chat", chat(top_p=0.5, tools=[{"type": "function",
                                                     "function": {"name": "f"}}]))
    assert validate("chat", clean) == clean


@pytest.mark.parametrize(("endpoint", "body", "expected"), [
    ("completions", {"prompt": "p"}, ("model", "model is required")),
    ("completions", {"model": "m"}, ("prompt", "prompt is required")),
    ("chat", {"model": "m"}, ("messages", "messages is required")),
    ("chat", {"model": None, "messages": HELLO}, ("model", "model is required")),
    ("chat", chat(model=""), ("model", "model must not be empty")),
    ("chat", chat(model="  "), ("model", "model must not be empty")),
    ("chat", chat(model=7), ("model", "model must be a string")),
])
def test_it_requires_model_and_the_input(endpoint, body, expected):
    assert errors(endpoint, body) == [expected]


def test_it_rejects_unknown_top_level_keys_when_extras_are_off():
    strict = {"extras": False}
    assert errors("chat", chat(xyz=1), **strict) == [
        ("xyz", "xyz is not a field of /v1/chat/completions")]
    assert messages("completions", completions(messages=HELLO), **strict) == [
        "messages is not a field of /v1/completions"]
    # A field of the other endpoint is still unknown here.
    assert messages("chat", chat(prompt="p", echo=True), **strict) == [
        "prompt is not a field of /v1/chat/completions",
        "echo is not a field of /v1/chat/completions"]


def test_it_keeps_unknown_top_level_keys_as_extras_after_the_catalogues_fields():
    body = {"top_k": 5, "model": "m", "min_p": 0.1, "messages": HELLO, "temperature": 1,
            "structured_outputs": {"choice": ["a", "b"]}, "unset_extra": None}
    clean = validate("chat", body)
    assert list(clean) == ["model", "messages", "temperature", "top_k", "min_p",
                           "structured_outputs"]
    assert clean["structured_outputs"] == {"choice": ["a", "b"]}
    assert validate("chat", clean) == clean
    # A field of the other endpoint is an extra here (vLLM's chat takes echo).
    assert validate("chat", chat(echo=True))["echo"] is True
    assert extras_of("chat", clean) == ["top_k", "min_p", "structured_outputs"]


def test_it_refuses_an_extra_that_is_not_plain_json():
    assert errors("chat", chat(top_k=float("nan"))) == [
        ("top_k", "top_k must be a number (NaN and Infinity are not JSON)")]
    assert errors("chat", chat(**{"x\ud800": 1})) == [
        ("body", "the request body has a key that is not valid Unicode text")]


def test_it_refuses_legacy_functions_with_what_to_send_instead():
    assert errors("chat", chat(functions=[{"name": "f"}], function_call="auto")) == [
        ("functions", 'functions is deprecated; send tools instead: [{"type": "function", '
                      '"function": {...}}] for each function'),
        ("function_call", 'function_call is deprecated; send tool_choice instead: "none", '
                          '"auto", or {"type": "function", "function": {"name": ...}}'),
    ]


def test_it_shortens_a_huge_unknown_key_in_the_message():
    (message,) = messages("chat", chat(**{"k" * 10_000: 1}), extras=False)
    assert len(message) < 100


def test_it_reports_every_error_at_once():
    body = {"model": "", "messages": [], "temperature": "hot", "n": 1.5, "stop": ["a"] * 5,
            "top_logprobs": 3, "stream_options": {"include_usage": True}, "xyz": 1}
    assert errors("chat", body, extras=False) == [
        ("xyz", "xyz is not a field of /v1/chat/completions"),
        ("model", "model must not be empty"),
        ("messages", "messages must not be empty"),
        ("temperature", "temperature must be a number"),
        ("stop", "stop accepts at most 4 sequences"),
        ("n", "n must be an integer"),
        ("top_logprobs", "top_logprobs requires logprobs to be true"),
        ("stream_options", "stream_options is only allowed when stream is true"),
    ]


@pytest.mark.parametrize("body", [[], "model=m", None, 3, [{"model": "m"}]])
def test_it_needs_a_json_object_body(body):
    assert errors("chat", body) == [("body", "the request body must be a JSON object")]


def test_it_raises_a_failure_that_reads_as_its_messages():
    with pytest.raises(ValidationFailed) as caught:
        validate("chat", chat(temperature=3, n=0))
    assert str(caught.value) == "temperature must be between 0 and 2; n must be between 1 and 128"
    first = caught.value.errors[0]
    assert first == FieldError("temperature", "temperature must be between 0 and 2")


def test_it_refuses_an_unknown_endpoint_as_a_programming_error():
    with pytest.raises(ValueError):
        validate("embeddings", {"model": "m"})


@pytest.mark.parametrize("key", [1, 10**5000, None, ("a",)], ids=["int", "huge", "none", "tuple"])
def test_it_rejects_keys_that_are_not_strings(key):
    assert errors("chat", {**chat(), key: 1}) == [
        ("body", "the request body has a key that is not a string")]


def test_it_keeps_messages_encodable_when_a_key_is_not():
    ((name, message),) = errors("chat", chat(**{"x\ud800": 1}), extras=False)
    assert message == "x? is not a field of /v1/chat/completions"
    message.encode("utf-8")


def test_it_does_not_confuse_an_unknown_key_with_the_field_it_resembles():
    assert errors("chat", chat(**{"temperature[0]": 1, "temperature": 5}), extras=False) == [
        ("temperature[0]", "temperature[0] is not a field of /v1/chat/completions"),
        ("temperature", "temperature must be between 0 and 2"),
    ]
