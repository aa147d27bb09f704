"""Logprobs in the documented shape of each endpoint, whatever the backend sends."""

from apps.inference import Delta, complete
from apps.inference.logprobs import chat_logprobs, completion_logprobs
from testing.fixtures import collect

CHAT_SHAPED = {
    "content": [
        {
            "id": 7042,
            "token": " Paris",
            "bytes": [32, 80, 97, 114, 105, 115],
            "logprob": -0.5,
            "top_logprobs": [
                {"id": 7042, "token": " Paris", "bytes": [32, 80], "logprob": -0.5},
                {"id": 260, "token": " the", "bytes": [32, 116], "logprob": -1.5},
            ],
        },
        {"id": 30, "token": ".", "bytes": [46], "logprob": -0.1, "top_logprobs": []},
    ]
}


def test_it_converts_the_chat_shape_to_the_legacy_shape():
    legacy, end = completion_logprobs(CHAT_SHAPED, offset=10)
    assert legacy == {
        "tokens": [" Paris", "."],
        "token_logprobs": [-0.5, -0.1],
        "top_logprobs": [{" Paris": -0.5, " the": -1.5}, {}],
        "text_offset": [10, 16],
    }
    assert end == 17


def test_it_keeps_the_legacy_shape_and_its_offsets():
    legacy = {
        "tokens": ["a", "bc"],
        "token_logprobs": [-1.0, -2.0],
        "top_logprobs": [{"a": -1.0}, {"bc": -2.0}],
        "text_offset": [5, 6],
    }
    assert completion_logprobs(legacy, offset=0) == (legacy, 8)


def test_it_normalizes_chat_logprobs_to_the_documented_keys():
    assert chat_logprobs(CHAT_SHAPED)["content"][0] == {
        "token": " Paris",
        "logprob": -0.5,
        "bytes": [32, 80, 97, 114, 105, 115],
        "top_logprobs": [
            {"token": " Paris", "logprob": -0.5, "bytes": [32, 80]},
            {"token": " the", "logprob": -1.5, "bytes": [32, 116]},
        ],
    }


def test_it_converts_legacy_logprobs_to_the_chat_shape():
    legacy = {"tokens": ["hé"], "token_logprobs": [-1.0], "top_logprobs": [{"hé": -1.0}]}
    assert chat_logprobs(legacy) == {
        "content": [
            {
                "token": "hé",
                "logprob": -1.0,
                "bytes": [104, 195, 169],
                "top_logprobs": [{"token": "hé", "logprob": -1.0, "bytes": [104, 195, 169]}],
            }
        ],
        "refusal": None,  # OpenAI's schema requires the key
    }


def test_it_passes_no_logprobs_as_none():
    assert completion_logprobs(None, 3) == (None, 3)
    assert chat_logprobs(None) is None


def streamed_logprobs(events, index=0):
    merged = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for event in events:
        if isinstance(event, Delta) and event.index == index and event.logprobs:
            for key in merged:
                merged[key] += event.logprobs[key]
    return merged


async def test_it_streams_legacy_logprobs_for_chat_shaped_completions(upstream, upstream_target):
    upstream.behave(logprobs_shape="chat")  # as llama.cpp sends them
    body = {"prompt": "hi you", "logprobs": 2}
    events = await collect(upstream_target, "completions", body)
    assert streamed_logprobs(events) == {
        "tokens": ["Echo:", " hi", " you"],
        "token_logprobs": [-0.1, -0.2, -0.3],
        "top_logprobs": [
            {"Echo:": -0.1, "Echo:~1": -1.1},
            {" hi": -0.2, "hi~1": -1.2},
            {" you": -0.3, "you~1": -1.3},
        ],
        # Offsets run on from the prompt, as OpenAI's legacy models count them.
        "text_offset": [6, 11, 14],
    }


async def test_it_streams_legacy_logprobs_unchanged(upstream, upstream_target):
    body = {"prompt": "hi you", "logprobs": 1, "n": 2}
    events = await collect(upstream_target, "completions", body)
    for index in (0, 1):
        logprobs = streamed_logprobs(events, index)
        assert logprobs["tokens"] == ["Echo", f" #{index}:", " hi", " you"]
        assert logprobs["text_offset"] == [6, 10, 14, 17]
        assert logprobs["top_logprobs"][0] == {"Echo": -0.1}


async def test_it_streams_chat_logprobs_as_content(upstream, upstream_target):
    body = {"messages": [{"role": "user", "content": "hi"}], "logprobs": True, "top_logprobs": 1}
    events = await collect(upstream_target, "chat", body)
    content = [
        i for e in events if isinstance(e, Delta) and e.logprobs for i in e.logprobs["content"]
    ]
    assert [i["token"] for i in content] == ["Echo:", " hi"]
    assert content[1]["top_logprobs"] == [
        {"token": " hi", "logprob": -0.2, "bytes": [32, 104, 105]}
    ]


async def test_complete_returns_legacy_logprobs_for_completions(upstream, upstream_target):
    upstream.behave(logprobs_shape="chat")
    response = await complete(upstream_target, "completions", {"prompt": "ab", "logprobs": 1})
    assert response["choices"][0]["logprobs"] == {
        "tokens": ["Echo:", " ab"],
        "token_logprobs": [-0.1, -0.2],
        "top_logprobs": [{"Echo:": -0.1}, {" ab": -0.2}],
        "text_offset": [2, 7],
    }
