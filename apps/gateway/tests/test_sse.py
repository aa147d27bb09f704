"""The stream on the wire, as curl sees it: `data: <json>` events separated by
blank lines, chunk objects in OpenAI's shapes, `data: [DONE]` last; an error
mid-stream is an error frame and no [DONE]."""

import json

import httpx
import pytest


def post(app_url, secret, path, body):
    """(status, headers, raw body text) of one streamed request."""
    with httpx.stream(
        "POST",
        f"{app_url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    ) as response:
        return response.status_code, response.headers, response.read().decode()


def events(raw):
    """The data of each event; asserts the framing on the way."""
    assert raw.endswith("\n\n")
    found = []
    for block in raw[:-2].split("\n\n"):
        (line,) = block.split("\n")  # one data line per event, no other fields
        assert line.startswith("data: ")
        found.append(line[len("data: "):])
    return found


def chunks(raw):
    data = events(raw)
    assert data[-1] == "[DONE]"
    assert "[DONE]" not in data[:-1]
    return [json.loads(d) for d in data[:-1]]


def test_it_streams_completions_as_server_sent_events(app_url, secret, fake_model, upstream):
    upstream.behave(text="Hello there, world")
    status, headers, raw = post(app_url, secret, "/v1/completions",
                                {"model": "Echo", "prompt": "x", "stream": True})
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache"
    found = chunks(raw)
    assert len({c["id"] for c in found}) == 1
    assert found[0]["id"].startswith("cmpl-")
    for chunk in found:
        assert chunk["object"] == "text_completion"
        assert chunk["model"] == "Echo"
        assert isinstance(chunk["created"], int)
        assert chunk["system_fingerprint"] == "fp_fake"
        assert "usage" not in chunk  # only with include_usage
        (choice,) = chunk["choices"]
        assert set(choice) == {"text", "index", "logprobs", "finish_reason"}
    assert [c["choices"][0]["text"] for c in found] == ["Hello", " there,", " world", ""]
    assert [c["choices"][0]["finish_reason"] for c in found] == [None, None, None, "stop"]


def test_it_streams_chat_with_the_role_first_and_a_finish_chunk_per_choice(
    app_url, secret, fake_model, upstream
):
    upstream.behave(choices=[["A", "b"], ["C"]])
    status, _, raw = post(app_url, secret, "/v1/chat/completions", {
        "model": "Echo", "messages": [{"role": "user", "content": "x"}], "n": 2, "stream": True,
    })
    assert status == 200
    found = chunks(raw)
    assert {c["object"] for c in found} == {"chat.completion.chunk"}
    by_choice = {0: [], 1: []}
    for chunk in found:
        (choice,) = chunk["choices"]
        by_choice[choice["index"]].append(choice)
    for index, text in ((0, "Ab"), (1, "C")):
        choices = by_choice[index]
        assert choices[0]["delta"]["role"] == "assistant"
        assert all("role" not in c["delta"] for c in choices[1:])
        assert "".join(c["delta"].get("content") or "" for c in choices) == text
        assert [c["finish_reason"] for c in choices][-1] == "stop"
        assert choices[-1]["delta"] == {}
        assert all(c["finish_reason"] is None for c in choices[:-1])


def test_include_usage_adds_a_last_usage_chunk(app_url, secret, fake_model, upstream):
    status, _, raw = post(app_url, secret, "/v1/chat/completions", {
        "model": "Echo", "messages": [{"role": "user", "content": "one two"}], "stream": True,
        "stream_options": {"include_usage": True},
    })
    found = chunks(raw)
    *rest, last = found
    assert all(c["usage"] is None and c["choices"] for c in rest)
    assert last["choices"] == []
    assert last["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}


def test_it_streams_completion_logprobs_in_the_legacy_shape(app_url, secret, fake_model,
                                                            upstream):
    upstream.behave(text="a b")
    _, _, raw = post(app_url, secret, "/v1/completions",
                     {"model": "Echo", "prompt": "xy", "stream": True, "logprobs": 2})
    first = chunks(raw)[0]["choices"][0]
    assert first["logprobs"] == {
        "tokens": ["a"], "token_logprobs": [-0.1], "top_logprobs": [{"a": -0.1, "a~1": -1.1}],
        "text_offset": [2],
    }


def test_it_streams_tool_calls(app_url, secret, fake_model, upstream):
    upstream.behave(tool_calls=[{"name": "get_weather", "arguments": '{"city": "Paris"}'}])
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    _, _, raw = post(app_url, secret, "/v1/chat/completions", {
        "model": "Echo", "messages": [{"role": "user", "content": "x"}], "tools": tools,
        "stream": True,
    })
    found = chunks(raw)
    calls = [c["choices"][0]["delta"].get("tool_calls") for c in found]
    arguments = "".join(c[0]["function"].get("arguments", "") for c in calls if c)
    assert json.loads(arguments) == {"city": "Paris"}
    assert found[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_an_error_mid_stream_is_an_error_frame_and_no_done(app_url, secret, fake_model,
                                                           upstream):
    upstream.behave(drop_after=1)
    status, _, raw = post(app_url, secret, "/v1/completions",
                          {"model": "Echo", "prompt": "a b c", "stream": True})
    assert status == 200
    *data, last = events(raw)
    assert json.loads(data[0])["choices"][0]["text"] == "Echo:"
    error = json.loads(last)["error"]
    assert error["message"] == "the upstream closed the stream early"
    assert error["type"] == "api_error"
    assert error["code"] == "upstream_upstream"
    assert "[DONE]" not in raw


@pytest.mark.parametrize("status", [429, 500])
def test_an_error_before_the_first_token_has_its_http_status(app_url, secret, fake_model,
                                                             upstream, status):
    upstream.behave(status=status)
    got, headers, raw = post(app_url, secret, "/v1/completions",
                             {"model": "Echo", "prompt": "x", "stream": True})
    assert got == {429: 429, 500: 502}[status]
    assert headers["content-type"] == "application/json"
    assert "error" in json.loads(raw)


def test_a_run_that_failed_without_an_error_event_does_not_end_with_done():
    # The engine failed so badly it could not publish the error (a bug): the
    # run is stored as failed, and the client must not read a partial
    # answer as a complete one.
    from apps.gateway import sse
    from apps.inference import Delta, Meta
    from apps.runs.protocol import Ended

    frames = sse.Frames("completions", False)
    run = [Meta(id="cmpl-1", model="m", created=1), Delta(0, "a"), Delta(0, "b"), Ended("failed")]
    raw = b"".join(filter(None, map(frames.frame, run)))
    *data, last = events(raw.decode())
    assert [json.loads(d)["choices"][0]["text"] for d in data] == ["a", "b"]
    assert json.loads(last)["error"]["code"] == "internal_error"
    assert "[DONE]" not in raw.decode()


def shape(raw):
    """The frames, without what differs from call to call (id, created)."""
    found = []
    for data in events(raw):
        frame = data if data == "[DONE]" else json.loads(data)
        if isinstance(frame, dict):
            frame.pop("id", None), frame.pop("created", None)
        found.append(frame)
    return found


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fault", [{}, {"drop_after": 1}], ids=["whole", "cut"])
async def test_django_s_own_handler_streams_the_same_answer(app_url, secret, fake_model,
                                                            upstream, fault):
    # /v1 is served by playground/api.py's handler, where the run's own task
    # sends each frame. Served by Django's handler instead (its test client;
    # a deployment under a path prefix, which /v1 routing does not match),
    # the same response is iterated: the same frames must come out.
    from django.test import AsyncClient

    upstream.behave(text="one two three", **fault)
    body = {"model": "Echo", "prompt": "x", "stream": True}
    status, _, served = post(app_url, secret, "/v1/completions", body)
    response = await AsyncClient().post("/v1/completions", body, content_type="application/json",
                                        headers={"Authorization": f"Bearer {secret}"})
    own = b"".join([part async for part in response.streaming_content]).decode()
    assert response.status_code == status == 200
    assert shape(own) == shape(served)
    assert len(shape(served)) == (5 if not fault else 2)  # 3 words, the finish, the end


def test_a_stream_that_ends_with_its_first_event_ends(app_url, secret, fake_model, upstream):
    # An upstream that sends one empty chunk, no finish_reason and [DONE]:
    # the run ends before any token, so the answer's first events already
    # hold its end. The body must end there too, not leave the client
    # waiting for more after [DONE].
    empty = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
             "choices": [{"index": 0, "text": ""}]}
    upstream.behave(raw=[f"data: {json.dumps(empty)}\n\n", "data: [DONE]\n\n"])
    status, _, raw = post(app_url, secret, "/v1/completions",
                          {"model": "Echo", "prompt": "x", "stream": True})
    assert status == 200
    assert events(raw)[-1] == "[DONE]"
