"""The official openai SDK against the live gateway and the real embedded
model: completions and chat, streamed and not, n > 1, logprobs, stop, seed,
include_usage, the model list."""

import pytest

from apps.providers.models import ensure_local_provider


@pytest.fixture
def local(transactional_db):
    # The server process starts its own embedded model on first use; the
    # database is flushed between tests, so the model is registered each time.
    return ensure_local_provider().display_name


@pytest.fixture
def sdk(local, sdk):
    return sdk


CHAT = [{"role": "user", "content": "Name three colours."}]


def test_it_answers_a_chat(sdk, local):
    answer = sdk.chat.completions.create(
        model=local, messages=CHAT, max_tokens=12, temperature=0, seed=1
    )
    assert answer.object == "chat.completion"
    assert answer.id.startswith("chatcmpl-")
    assert answer.model == local
    (choice,) = answer.choices
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert answer.usage.completion_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_it_streams_a_chat_with_usage(sdk, local):
    body = {"model": local, "messages": CHAT, "max_tokens": 12, "temperature": 0, "seed": 1}
    whole = sdk.chat.completions.create(**body).choices[0].message.content
    chunks = list(
        sdk.chat.completions.create(**body, stream=True, stream_options={"include_usage": True})
    )
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in chunks[1:-1])
    *content, finish, usage = chunks
    assert "".join(c.choices[0].delta.content or "" for c in content) == whole
    assert finish.choices[0].finish_reason in ("stop", "length")
    # include_usage: usage null on every chunk but the last, which has no choices.
    assert all(c.usage is None for c in chunks[:-1])
    assert usage.choices == []
    assert usage.usage.completion_tokens > 0


def test_it_completes_and_streams_a_prompt_with_stop(sdk, local):
    body = {"model": local, "prompt": "1, 2, 3, 4, 5,", "max_tokens": 10, "temperature": 0,
            "stop": [","]}
    answer = sdk.completions.create(**body)
    assert answer.object == "text_completion"
    assert answer.id.startswith("cmpl-")
    (choice,) = answer.choices
    assert choice.text.strip() == "6"
    assert choice.finish_reason == "stop"

    chunks = list(sdk.completions.create(**body, stream=True))
    assert {c.object for c in chunks} == {"text_completion"}
    assert "".join(c.choices[0].text for c in chunks) == choice.text
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_it_returns_n_choices(sdk, local):
    body = {"model": local, "prompt": "Once upon a time", "max_tokens": 6, "n": 2, "seed": 3}
    answer = sdk.completions.create(**body)
    assert [c.index for c in answer.choices] == [0, 1]
    assert all(c.text and c.finish_reason for c in answer.choices)

    chunks = list(sdk.completions.create(**body, stream=True))
    finished = {c.choices[0].index: c.choices[0].finish_reason for c in chunks
                if c.choices[0].finish_reason}
    assert set(finished) == {0, 1}

    chat = sdk.chat.completions.create(model=local, messages=CHAT, max_tokens=6, n=2)
    assert [c.index for c in chat.choices] == [0, 1]
    assert all(c.message.role == "assistant" for c in chat.choices)


def test_it_returns_completion_logprobs_in_the_legacy_shape(sdk, local):
    answer = sdk.completions.create(
        model=local, prompt="The capital of France is", max_tokens=4, temperature=0, logprobs=2
    )
    (choice,) = answer.choices
    logprobs = choice.logprobs
    assert "".join(logprobs.tokens) == choice.text
    assert len(logprobs.token_logprobs) == len(logprobs.tokens) == len(logprobs.text_offset)
    assert all(lp <= 0 for lp in logprobs.token_logprobs)
    assert all(1 <= len(top) <= 3 for top in logprobs.top_logprobs)
    assert logprobs.text_offset[0] == len("The capital of France is")


def test_it_returns_chat_logprobs(sdk, local):
    answer = sdk.chat.completions.create(
        model=local, messages=CHAT, max_tokens=4, temperature=0, logprobs=True, top_logprobs=2
    )
    (choice,) = answer.choices
    content = choice.logprobs.content
    assert "".join(t.token for t in content) == choice.message.content
    assert all(len(t.top_logprobs) == 2 for t in content)

    chunks = list(sdk.chat.completions.create(
        model=local, messages=CHAT, max_tokens=4, temperature=0, logprobs=True, top_logprobs=2,
        stream=True,
    ))
    streamed = [t.token for c in chunks if c.choices[0].logprobs
                for t in c.choices[0].logprobs.content]
    assert streamed == [t.token for t in content]


def test_it_repeats_itself_with_the_same_seed(sdk, local):
    def sample(seed):
        return sdk.completions.create(
            model=local, prompt="My favourite animal is", max_tokens=12, temperature=1.2,
            seed=seed,
        ).choices[0].text

    first = sample(1234)
    assert sample(1234) == first
    # And the seed matters: a few other seeds do not all give the same text.
    assert len({first, sample(1), sample(2), sample(3)}) > 1


def test_it_lists_and_retrieves_models(sdk, local, fake_model):
    assert {local, "Echo"} <= {m.id for m in sdk.models.list()}
    model = sdk.models.retrieve(local)
    assert model.id == local
    assert model.object == "model"
    assert model.owned_by
    assert model.created > 0
