"""The gateway answers exactly as OpenAI would (issue 10), through the official
openai SDK against a live server, on the embedded model and on the local test
upstream, streamed and not. Every answer, error answers included, is checked
against OpenAI's published response schemas (openai_schema.py).

Modelled on vLLM's tests/entrypoints/openai/ (the SDK against a running
server: n, batches of prompts, logprobs 0, usage) and llama.cpp's
tools/server/tests/unit/ (one small real model, short max_tokens)."""

import json

import httpx
import openai
import pytest

from apps.providers.models import ensure_local_provider

from .openai_schema import check

# A call that takes longer than this on a few tokens is a hang.
BOUND = 30


@pytest.fixture
def local(transactional_db):
    return ensure_local_provider().display_name


@pytest.fixture
def sdk(app_url, secret):
    # No retries: the SDK retries 5xx, and an answer must be right the first time.
    return openai.OpenAI(base_url=f"{app_url}/v1", api_key=secret, max_retries=0, timeout=BOUND)


@pytest.fixture(params=["embedded", "upstream"])
def model(request, local, fake_model):
    """Each test runs on both backends; `model` is the name a client uses."""
    return local if request.param == "embedded" else fake_model.display_name


def api(sdk, endpoint):
    return sdk.chat.completions if endpoint == "chat" else sdk.completions


def answer(sdk, endpoint, **body):
    """The non-streamed answer as JSON, valid under OpenAI's schema."""
    raw = api(sdk, endpoint).with_raw_response.create(**body)
    return check(endpoint, raw.http_response.json())


def chunks(sdk, endpoint, **body):
    """Every chunk of the streamed answer, each valid under OpenAI's schema;
    fails unless the stream ends with [DONE]."""
    with api(sdk, endpoint).with_streaming_response.create(stream=True, **body) as raw:
        data = [line[len("data: "):] for line in raw.iter_lines() if line.startswith("data: ")]
    assert data and data[-1] == "[DONE]", f"the stream did not end with [DONE]: {data[-2:]}"
    return [check(f"{endpoint}.chunk", json.loads(d)) for d in data[:-1]]


def refused(call, status=400):
    """The error an SDK call raised, its body valid under OpenAI's schema."""
    with pytest.raises(openai.APIStatusError) as caught:
        call()
    assert caught.value.status_code == status, caught.value.response.text
    return check("error", caught.value.response.json())["error"]


def texts(streamed):
    out = {}
    for chunk in streamed:
        for choice in chunk["choices"]:
            piece = choice["delta"].get("content") if "delta" in choice else choice["text"]
            out[choice["index"]] = out.get(choice["index"], "") + (piece or "")
    return out


def finishes(streamed):
    return [(c["index"], c["finish_reason"]) for chunk in streamed for c in chunk["choices"]
            if c["finish_reason"]]


CHAT = [{"role": "user", "content": "Name a colour."}]

# --- 1. every call ends ------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["", [""]])
@pytest.mark.parametrize("n", [2, 4])
def test_it_answers_an_empty_prompt_with_several_choices(sdk, model, prompt, n):
    body = {"model": model, "prompt": prompt, "max_tokens": 1, "n": n}
    whole = answer(sdk, "completions", **body)
    assert [c["index"] for c in whole["choices"]] == list(range(n))
    streamed = chunks(sdk, "completions", **body)
    assert sorted(i for i, _ in finishes(streamed)) == list(range(n))


# --- 2. the client's mistakes are 400s -------------------------------------------------


@pytest.mark.parametrize("part", [
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
], ids=["image", "audio"])
@pytest.mark.parametrize("stream", [False, True])
def test_it_refuses_a_content_part_the_embedded_model_cannot_read(sdk, local, part, stream):
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, part]}]
    error = refused(lambda: api(sdk, "chat").create(
        model=local, messages=messages, max_tokens=2, stream=stream))
    assert error["param"] == "messages[0].content[1].type"
    assert part["type"] in error["message"]


def test_it_takes_a_null_name_as_no_name(sdk, model):
    messages = [{"role": "user", "content": "Hi", "name": None}]
    assert answer(sdk, "chat", model=model, messages=messages, max_tokens=2)["choices"]


@pytest.mark.parametrize("stream", [False, True])
def test_it_answers_a_context_overflow_with_400_and_the_upstreams_words(
    sdk, local, stream
):
    prompt = "hello world " * 1500  # 3000 tokens; a slot holds 2048
    error = refused(lambda: api(sdk, "completions").create(
        model=local, prompt=prompt, max_tokens=2, stream=stream))
    assert "exceeds the available context size" in error["message"]


@pytest.mark.parametrize("status", [400, 413, 422])
@pytest.mark.parametrize("stream", [False, True])
def test_it_passes_on_an_upstreams_4xx_about_the_request_as_400(
    sdk, fake_model, upstream, status, stream
):
    upstream.behave(status=status, error="This model's maximum context length is 8 tokens.")
    error = refused(lambda: api(sdk, "completions").create(
        model="Echo", prompt="Hi", max_tokens=2, stream=stream))
    assert "maximum context length is 8 tokens" in error["message"]
    assert len(upstream.requests) == 1  # and nothing made the SDK try again
    # An upstream failure is still the gateway's 502.
    upstream.behave(status=500)
    refused(lambda: api(sdk, "completions").create(model="Echo", prompt="Hi"), status=502)


# --- 3. a list of prompts streams ------------------------------------------------------


def test_it_streams_a_list_of_prompts(sdk, model):
    body = {"model": model, "prompt": ["Hello", "World"], "max_tokens": 4, "temperature": 0,
            "stream_options": {"include_usage": True}}
    streamed = chunks(sdk, "completions", **body)
    assert sorted(i for i, _ in finishes(streamed)) == [0, 1]
    body.pop("stream_options")
    whole = answer(sdk, "completions", **body)
    assert texts(streamed) == {c["index"]: c["text"] for c in whole["choices"]}


# --- 4. the same usage either way ------------------------------------------------------


@pytest.mark.parametrize("shape", [{"prompt": "Hi", "n": 3}, {"prompt": ["Hello", "Good day"]}],
                         ids=["n3", "two-prompts"])
def test_it_reports_the_same_usage_streamed_or_not(sdk, model, shape):
    body = {"model": model, "max_tokens": 8, "seed": 7, **shape,
            "extra_body": {"ignore_eos": True}}
    whole = answer(sdk, "completions", **body)["usage"]
    streamed = chunks(sdk, "completions", **body, stream_options={"include_usage": True})
    assert streamed[-1]["choices"] == []
    assert streamed[-1]["usage"] == whole
    choices = 3 if "n" in shape else 2
    if model != "Echo":  # the test upstream counts words, not tokens
        assert whole["completion_tokens"] == 8 * choices


# --- 5. the documented default max_tokens -------------------------------------------


def test_it_generates_16_tokens_when_max_tokens_is_unset(sdk, local, fake_model, upstream):
    whole = answer(sdk, "completions", model=local, prompt="Once upon a time",
                   extra_body={"ignore_eos": True})
    assert whole["usage"]["completion_tokens"] == 16
    assert whole["choices"][0]["finish_reason"] == "length"
    answer(sdk, "completions", model="Echo", prompt="Once upon a time")
    assert upstream.last.json["max_tokens"] == 16


# --- 6. logprobs as OpenAI gives them ---------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_it_gives_chat_logprobs_as_openai_does(sdk, model, stream):
    def logprobs(**extra):
        body = {"model": model, "messages": CHAT, "max_tokens": 3, "logprobs": True, **extra}
        if stream:
            return [t for c in chunks(sdk, "chat", **body) for choice in c["choices"]
                    if choice["logprobs"] for t in choice["logprobs"]["content"]]
        return answer(sdk, "chat", **body)["choices"][0]["logprobs"]["content"]

    for tokens in (logprobs(), logprobs(top_logprobs=0)):
        assert tokens and all(t["top_logprobs"] == [] for t in tokens)
    assert all(len(t["top_logprobs"]) == 2 for t in logprobs(top_logprobs=2))


def test_it_gives_the_sampled_tokens_for_completions_logprobs_0(sdk, model):
    body = {"model": model, "prompt": "The capital of France is", "max_tokens": 3,
            "logprobs": 0, "temperature": 0, "seed": 1}
    logprobs = answer(sdk, "completions", **body)["choices"][0]["logprobs"]
    assert logprobs and logprobs["tokens"]
    assert len(logprobs["token_logprobs"]) == len(logprobs["tokens"])
    assert all(len(top) == 1 for top in logprobs["top_logprobs"])
    streamed = [c["choices"][0]["logprobs"] for c in chunks(sdk, "completions", **body)
                if c["choices"] and c["choices"][0]["logprobs"]]
    assert [t for lp in streamed for t in lp["tokens"]] == logprobs["tokens"]
    assert all(len(top) == 1 for lp in streamed for top in lp["top_logprobs"])


# --- 7. response shapes ---------------------------------------------------------------


def test_it_says_refusal_null_in_chat_messages_and_first_deltas(sdk, model):
    whole = answer(sdk, "chat", model=model, messages=CHAT, max_tokens=2, n=2)
    assert all(c["message"]["refusal"] is None for c in whole["choices"])
    streamed = chunks(sdk, "chat", model=model, messages=CHAT, max_tokens=2)
    first = streamed[0]["choices"][0]["delta"]
    assert first["role"] == "assistant" and first["refusal"] is None


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", ["/v1/embeddings", "/v1/responses", "/v1", "/v1/x/y"])
def test_it_answers_an_unknown_v1_path_with_openais_json_404(app_url, secret, method, path):
    response = httpx.request(method, f"{app_url}{path}", json={},
                             headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 404
    check("error", response.json())


def test_it_answers_the_sdks_embeddings_call_with_not_found(sdk):
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.embeddings.create(model="x", input="hi")
    check("error", caught.value.response.json())


def test_it_answers_a_multipart_body_with_openais_json_400(app_url, secret, local):
    response = httpx.post(f"{app_url}/v1/completions", files={"prompt": (None, "Hi")},
                          data={"model": local}, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 400
    assert "application/json" in check("error", response.json())["error"]["message"]


def test_it_lists_models_in_openais_shape(sdk, local, fake_model):
    check("models", sdk.models.with_raw_response.list().http_response.json())
    check("model", sdk.models.with_raw_response.retrieve(local).http_response.json())


# --- 8. no needless refusals -----------------------------------------------------------


def test_it_takes_a_whole_number_float_as_an_integer(sdk, model):
    whole = answer(sdk, "completions", model=model, prompt="Hi", max_tokens=2.0, n=2.0)
    assert len(whole["choices"]) == 2


def test_it_takes_a_null_prompt_as_the_start_of_a_document(sdk, model):
    whole = answer(sdk, "completions", model=model, prompt=None, max_tokens=2)
    assert whole["choices"][0]["finish_reason"]


def test_it_takes_the_developer_role(sdk, model):
    messages = [{"role": "developer", "content": "Be brief."}, *CHAT]
    assert answer(sdk, "chat", model=model, messages=messages, max_tokens=2)["choices"]
    assert chunks(sdk, "chat", model=model, messages=messages, max_tokens=2)


@pytest.mark.parametrize("stream", [False, True])
def test_it_names_n_and_the_embedded_models_limit(sdk, local, stream):
    error = refused(lambda: api(sdk, "completions").create(
        model=local, prompt="Hi", max_tokens=1, n=5, stream=stream))
    assert error["param"] == "n" and "at most 4" in error["message"]


def test_it_streams_unicode_line_separators_as_one_event_per_line(sdk, fake_model):
    # U+0085, U+2028 and U+2029 are not SSE line ends, but str.splitlines()
    # (httpx's iter_lines, which chunks() reads with) splits on them.
    prompt = "a\u0085b\u2028c\u2029d"
    streamed = chunks(sdk, "completions", model="Echo", prompt=prompt, max_tokens=8)
    assert texts(streamed)[0] == f"Echo: {prompt}"
