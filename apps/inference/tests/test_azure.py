"""Azure OpenAI: deployment URL, api-version, the api-key header."""

import pytest

from apps.inference import Error, Target, Timeouts, UpstreamError, complete, list_models
from testing.fixtures import collect, text_of


@pytest.fixture
def azure(upstream):
    upstream.require_key("azure-key-123")
    return Target(
        kind="azure",
        base_url=upstream.base,
        model="my-gpt",
        api_key="azure-key-123",
        api_version="2024-10-21",
        timeouts=Timeouts(connect=2, first_byte=5, between_chunks=5, total=20),
    )


async def test_it_streams_chat_from_the_deployment_url(upstream, azure):
    events = await collect(azure, "chat", {"messages": [{"role": "user", "content": "hi"}]})
    assert text_of(events) == "Echo: hi"
    request = upstream.last
    assert request.path == "/openai/deployments/my-gpt/chat/completions"
    assert request.query == {"api-version": "2024-10-21"}
    assert request.headers["api-key"] == "azure-key-123"
    assert "authorization" not in request.headers


async def test_it_completes_from_the_deployment_url(upstream, azure):
    response = await complete(azure, "completions", {"prompt": "hello"})
    assert response["choices"][0]["text"] == "Echo: hello"
    assert upstream.last.path == "/openai/deployments/my-gpt/completions"
    assert upstream.last.query == {"api-version": "2024-10-21"}


async def test_it_lists_the_resources_models(upstream, azure):
    assert await list_models(azure) == ["echo-1", "echo-2"]
    assert upstream.last.path == "/openai/models"
    assert upstream.last.query == {"api-version": "2024-10-21"}
    assert upstream.last.headers["api-key"] == "azure-key-123"


async def test_it_reports_a_refused_azure_key(azure):
    from dataclasses import replace

    events = await collect(replace(azure, api_key="wrong"), "chat", {"messages": []})
    assert events[-1] == Error("the provider refused the API key (HTTP 401)", "auth", 401)


async def test_it_reports_a_missing_api_version_as_not_found(azure):
    from dataclasses import replace

    with pytest.raises(UpstreamError) as caught:
        await complete(replace(azure, api_version=""), "chat", {"messages": []})
    assert caught.value.code == "not_found"
