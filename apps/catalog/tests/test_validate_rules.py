"""Rules that involve two fields."""

import pytest

from apps.catalog import validate

from .bodies import chat, completions, errors


@pytest.mark.parametrize(("best_of", "n"), [(1, 1), (5, 2), (20, 20), (3, None), (0, None)])
def test_it_accepts_best_of_at_least_n(best_of, n):
    assert validate("completions", completions(best_of=best_of, n=n))["best_of"] == best_of


@pytest.mark.parametrize(("best_of", "n"), [(1, 2), (0, 1), (19, 20)])
def test_it_rejects_best_of_below_n(best_of, n):
    assert errors("completions", completions(best_of=best_of, n=n)) == [
        ("best_of", "best_of must be greater than or equal to n")]


def test_it_compares_best_of_and_n_only_when_both_are_valid():
    assert errors("completions", completions(best_of=2, n=500)) == [
        ("n", "n must be between 1 and 128")]


def test_it_refuses_to_stream_best_of():
    # 003: "Results cannot be streamed." best_of 1 is the default and changes nothing.
    assert errors("completions", completions(best_of=2, stream=True)) == [
        ("best_of", "best_of cannot be used when stream is true")]
    assert validate("completions", completions(best_of=1, stream=True))
    assert validate("completions", completions(best_of=3, stream=False))


def test_it_requires_logprobs_for_top_logprobs():
    assert validate("chat", chat(logprobs=True, top_logprobs=5))["top_logprobs"] == 5
    assert errors("chat", chat(top_logprobs=5)) == [
        ("top_logprobs", "top_logprobs requires logprobs to be true")]
    assert errors("chat", chat(logprobs=False, top_logprobs=0)) == [
        ("top_logprobs", "top_logprobs requires logprobs to be true")]
    # logprobs given but wrong: reported once, on logprobs.
    assert errors("chat", chat(logprobs="true", top_logprobs=5)) == [
        ("logprobs", "logprobs must be a boolean")]


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_it_allows_stream_options_only_when_streaming(endpoint):
    build = completions if endpoint == "completions" else chat
    options = {"include_usage": True}
    assert validate(endpoint, build(stream=True, stream_options=options))["stream_options"] == (
        options)
    for stream in (False, None):
        assert errors(endpoint, build(stream=stream, stream_options=options)) == [
            ("stream_options", "stream_options is only allowed when stream is true")]
    assert errors(endpoint, build(stream=1, stream_options=options)) == [
        ("stream", "stream must be a boolean")]
