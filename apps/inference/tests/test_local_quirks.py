"""llama.cpp's departures from OpenAI, worked around by the adapter (issue 10),
against the real embedded model: each request shape answers as OpenAI would."""

import asyncio

from apps.inference import Delta, Error, Finish, Usage, complete
from testing.fixtures import collect, text_of

# Every call here must end well within this; llama.cpp's hang never did.
BOUND = 20


async def bounded(awaitable):
    return await asyncio.wait_for(awaitable, BOUND)


async def test_it_answers_an_empty_prompt_with_several_choices(embedded_model):
    # llama.cpp never answered "" with n > 1; the prompt becomes <|endoftext|>,
    # the document start OpenAI's models see, so the model writes something.
    for prompt in ("", [""]):
        body = {"prompt": prompt, "max_tokens": 2, "n": 2}
        events = await bounded(collect(embedded_model, "completions", body))
        assert {e.index for e in events if isinstance(e, Finish)} == {0, 1}
        answer = await bounded(complete(embedded_model, "completions", body))
        assert [c["index"] for c in answer["choices"]] == [0, 1]


async def test_it_streams_a_list_of_prompts(embedded_model):
    # llama.cpp opens such a stream with `data: null`.
    body = {"prompt": ["Hello", "World"], "max_tokens": 4, "temperature": 0}
    events = await bounded(collect(embedded_model, "completions", body))
    assert not any(isinstance(e, Error) for e in events)
    assert {e.index for e in events if isinstance(e, Finish)} == {0, 1}
    assert text_of(events, 0) and text_of(events, 1)


async def test_it_counts_every_choice_and_prompt_in_usage_either_way(embedded_model):
    body = {"prompt": "Hi", "max_tokens": 8, "n": 3, "ignore_eos": True}
    streamed = (await bounded(collect(embedded_model, "completions", body)))[-1]
    whole = (await bounded(complete(embedded_model, "completions", body)))["usage"]
    assert isinstance(streamed, Usage) and streamed.completion_tokens == 24
    assert whole["completion_tokens"] == 24
    assert whole["prompt_tokens"] == streamed.prompt_tokens

    two = {"prompt": ["Hello there", "Good morning to you"], "max_tokens": 4, "ignore_eos": True}
    streamed = (await bounded(collect(embedded_model, "completions", two)))[-1]
    whole = (await bounded(complete(embedded_model, "completions", two)))["usage"]
    assert streamed.completion_tokens == whole["completion_tokens"] == 8
    # Both prompts' tokens, not only the first one's.
    one = (await bounded(complete(embedded_model, "completions", {**two, "prompt": "Hello there"})))
    assert whole["prompt_tokens"] > one["usage"]["prompt_tokens"]
    assert whole["prompt_tokens"] == streamed.prompt_tokens


CHAT = {"messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 3, "temperature": 0}


async def test_it_gives_chat_logprobs_as_openai_does(embedded_model):
    # logprobs without top_logprobs: no alternatives (llama.cpp gave 20).
    answer = await bounded(complete(embedded_model, "chat", {**CHAT, "logprobs": True}))
    content = answer["choices"][0]["logprobs"]["content"]
    assert content and all(t["top_logprobs"] == [] for t in content)
    # top_logprobs 0: the tokens' logprobs still (llama.cpp gave none).
    events = await bounded(
        collect(embedded_model, "chat", {**CHAT, "logprobs": True, "top_logprobs": 0})
    )
    streamed = [t for e in events if isinstance(e, Delta) and e.logprobs
                for t in e.logprobs["content"]]
    assert streamed and all(t["top_logprobs"] == [] for t in streamed)
    answer = await bounded(
        complete(embedded_model, "chat", {**CHAT, "logprobs": True, "top_logprobs": 2})
    )
    assert all(len(t["top_logprobs"]) == 2 for t in answer["choices"][0]["logprobs"]["content"])


async def test_it_gives_the_sampled_tokens_logprobs_for_completions_logprobs_0(embedded_model):
    body = {"prompt": "The capital of France is", "max_tokens": 3, "logprobs": 0}
    logprobs = (await bounded(complete(embedded_model, "completions", body)))["choices"][0][
        "logprobs"
    ]
    assert logprobs is not None and len(logprobs["tokens"]) == 3
    assert [list(top) for top in logprobs["top_logprobs"]] == [[t] for t in logprobs["tokens"]]


async def test_it_refuses_what_the_model_cannot_take_naming_the_field(embedded_model):
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    for part, kind in ((image, "image_url"), (audio, "input_audio")):
        messages = [{"role": "user", "content": [{"type": "text", "text": "What?"}, part]}]
        events = await bounded(collect(embedded_model, "chat", {**CHAT, "messages": messages}))
        error = events[-1]
        assert isinstance(error, Error) and error.code == "bad_request"
        assert error.param == "messages[0].content[1].type" and kind in error.message
    events = await bounded(collect(embedded_model, "completions", {"prompt": "x", "n": 5}))
    assert events[-1].code == "bad_request" and events[-1].param == "n"
    assert "at most 4" in events[-1].message


async def test_it_reads_the_developer_role_as_system(embedded_model):
    # llama.cpp maps OpenAI's developer role to system itself: nothing to translate.
    def chat(role):
        return {**CHAT, "max_tokens": 8, "messages": [
            {"role": role, "content": "Answer in French."}, *CHAT["messages"]]}

    first = await bounded(complete(embedded_model, "chat", chat("developer")))
    second = await bounded(complete(embedded_model, "chat", chat("system")))
    assert first["choices"][0]["message"] == second["choices"][0]["message"]
    assert first["usage"]["prompt_tokens"] == second["usage"]["prompt_tokens"]
