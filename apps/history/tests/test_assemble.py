"""Reassembling a documented response from streamed events."""

from apps.history.assemble import Assembly
from apps.inference.events import Delta, Error, Finish, Meta, Notice, Usage


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_it_rebuilds_a_completion_with_logprobs_and_usage():
    clock = Clock()
    a = Assembly("completions", clock=clock)
    a.add(Meta(id="cmpl-1", model="m", created=5, system_fingerprint="fp"))
    clock.now = 100.25
    a.add(
        Delta(
            0,
            "Hel",
            logprobs={
                "tokens": ["Hel"],
                "token_logprobs": [-0.1],
                "top_logprobs": [{"Hel": -0.1}],
                "text_offset": [0],
            },
        )
    )
    clock.now = 100.5
    a.add(
        Delta(
            0,
            "lo",
            logprobs={
                "tokens": ["lo"],
                "token_logprobs": [-0.2],
                "top_logprobs": [{"lo": -0.2}],
                "text_offset": [3],
            },
        )
    )
    a.add(Finish(0, "length"))
    a.add(Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5))
    clock.now = 101.25
    a.end()

    assert a.response() == {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 5,
        "model": "m",
        "system_fingerprint": "fp",
        "choices": [
            {
                "text": "Hello",
                "index": 0,
                "finish_reason": "length",
                "logprobs": {
                    "tokens": ["Hel", "lo"],
                    "token_logprobs": [-0.1, -0.2],
                    "top_logprobs": [{"Hel": -0.1}, {"lo": -0.2}],
                    "text_offset": [0, 3],
                },
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    assert a.ttft_ms == 250
    assert a.duration_ms == 1250
    # One token after the first, in the second after it arrived.
    assert a.tokens_per_s() == 1 / 1.0


def test_it_merges_tool_call_pieces_into_whole_calls():
    a = Assembly("chat")
    a.add(Delta(0, role="assistant"))
    a.add(
        Delta(
            0,
            tool_calls=[
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ],
        )
    )
    a.add(Delta(0, tool_calls=[{"index": 0, "function": {"arguments": '{"city": '}}]))
    a.add(Delta(0, tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}]))
    a.add(Finish(0, "tool_calls"))
    choice = a.response()["choices"][0]
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert choice["finish_reason"] == "tool_calls"


def test_it_keeps_interleaved_choices_apart_and_in_order():
    a = Assembly("chat")
    for index, text in [(1, "b1"), (0, "a1"), (1, "b2"), (0, "a2")]:
        a.add(Delta(index, text))
    response = a.response()
    assert [c["message"]["content"] for c in response["choices"]] == ["a1a2", "b1b2"]
    assert a.output_text() == "a1a2\n\nb1b2"


def test_it_keeps_what_arrived_before_an_error_and_the_notices():
    a = Assembly("completions")
    a.add(Notice("m does not accept best_of; it was not sent", field="best_of"))
    a.add(Delta(0, "partial"))
    a.add(Error("the upstream closed the stream early", code="protocol"))
    assert a.output_text() == "partial"
    assert a.error.code == "protocol"
    assert a.notices == [
        {"field": "best_of", "message": "m does not accept best_of; it was not sent"}
    ]
    assert a.response()["choices"][0]["finish_reason"] is None
    assert "usage" not in a.response()


def test_it_has_no_first_token_time_when_nothing_arrived():
    a = Assembly("chat")
    a.end()
    assert a.ttft_ms is None
    assert a.tokens_per_s() is None
    assert a.response()["choices"] == []
