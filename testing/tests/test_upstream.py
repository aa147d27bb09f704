"""The test upstream itself: other apps' tests rely on these behaviours."""

import httpx


def test_it_lists_models_and_records_requests(upstream):
    response = httpx.get(f"{upstream.url}/models")
    assert [m["id"] for m in response.json()["data"]] == ["echo-1", "echo-2"]
    assert upstream.last.method == "GET"
    assert upstream.last.path == "/v1/models"


def test_it_echoes_the_prompt_by_default(upstream):
    response = httpx.post(
        f"{upstream.url}/completions", json={"model": "echo-1", "prompt": "hi there"}
    )
    assert response.json()["choices"][0]["text"] == "Echo: hi there"
    assert upstream.last.json == {"model": "echo-1", "prompt": "hi there"}


def test_it_answers_a_scripted_status_once(upstream):
    upstream.behave_once(status=429, retry_after=3)
    first = httpx.post(f"{upstream.url}/completions", json={"prompt": "x"})
    second = httpx.post(f"{upstream.url}/completions", json={"prompt": "x"})
    assert (first.status_code, first.headers["retry-after"]) == (429, "3")
    assert second.status_code == 200


def test_it_requires_the_key_when_told(upstream):
    upstream.require_key("sk-right")
    headers = {"Authorization": "Bearer sk-wrong"}
    assert httpx.get(f"{upstream.url}/models", headers=headers).status_code == 401
    headers = {"Authorization": "Bearer sk-right"}
    assert httpx.get(f"{upstream.url}/models", headers=headers).status_code == 200


def test_it_streams_sse_with_done(upstream):
    body = {"model": "echo-1", "prompt": "a b", "stream": True}
    with httpx.stream("POST", f"{upstream.url}/completions", json=body) as response:
        lines = [line for line in response.iter_lines() if line]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]"


def test_it_sees_the_client_hang_up(upstream):
    upstream.behave(stall_after=1)
    body = {"model": "echo-1", "prompt": "a b", "stream": True}
    with httpx.stream("POST", f"{upstream.url}/completions", json=body) as response:
        next(response.iter_lines())
    assert upstream.wait_disconnect(1.0)
    assert upstream.disconnects == 1


def _ask_from_another_process(url, queue):
    response = httpx.post(
        f"{url}/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}
    )
    queue.put(response.json()["choices"][0]["message"]["content"])


def test_it_serves_a_client_in_another_process(upstream):
    # As the browser tests' forked daphne server does: the behaviour set here
    # applies there, and its requests are recorded here.
    import multiprocessing

    upstream.behave(text="scripted in the parent")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_ask_from_another_process, args=(upstream.url, queue))
    child.start()
    child.join(10)
    assert queue.get(timeout=1) == "scripted in the parent"
    assert upstream.last.path == "/v1/chat/completions"


def test_it_streams_a_given_number_of_chunks(upstream):
    upstream.behave(text="la ", count=50)
    body = {"prompt": "x", "stream": True}
    with httpx.stream("POST", f"{upstream.url}/completions", json=body) as response:
        data = [line for line in response.iter_lines() if line.startswith("data: {")]
    assert len(data) == 50 + 1  # and the finish chunk
