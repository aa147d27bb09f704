"""The history browser: lists, filters, search, a run's page, re-run, fork, delete."""

import pytest

from apps.history.models import Conversation, Message, Run
from apps.providers.models import Model, Provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def echo(db):
    provider = Provider.objects.create(
        name="Test upstream", kind="openai", base_url="http://127.0.0.1:9/v1",
        api_key="sk-secret-0123456789",
    )
    return Model.objects.create(provider=provider, upstream_id="echo-1", display_name="Echo")


def make_run(user, **kw):
    kw.setdefault("endpoint", "completions")
    kw.setdefault("model_name", "Echo")
    kw.setdefault("request", {"model": "echo-1", "prompt": kw.get("prompt_text", "p")})
    return Run.objects.create(owner=user, **kw)


def chat_run(user, model, conversation=None):
    request = {
        "model": "echo-1",
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "Name a colour"}],
        "temperature": 0.4,
        "stream": True,
    }
    return make_run(user, endpoint="chat", model=model, request=request, conversation=conversation,
                    prompt_text="Be brief.\n\nName a colour", output_text="Teal",
                    status=Run.COMPLETED)


def rows(html):
    return html.count('class="run-row"')


def test_it_lists_only_my_runs_newest_first(client, owner, outsider):
    make_run(owner, prompt_text="first prompt", status=Run.COMPLETED)
    make_run(owner, prompt_text="second prompt", status=Run.INTERRUPTED)
    make_run(outsider, prompt_text="not yours")
    client.force_login(owner)
    html = client.get("/history/").content.decode()
    assert html.index("second prompt") < html.index("first prompt")
    assert "Interrupted" in html
    assert "not yours" not in html


def test_it_paginates(client, owner):
    for i in range(53):
        make_run(owner, prompt_text=f"prompt {i}")
    client.force_login(owner)
    first = client.get("/history/").content.decode()
    assert rows(first) == 50 and "Page 1 of 2" in first and "prompt 52" in first
    second = client.get("/history/?page=2").content.decode()
    assert rows(second) == 3 and "prompt 0" in second


def test_it_filters_by_mode_model_and_status(client, owner, echo):
    make_run(owner, prompt_text="alpha", status=Run.COMPLETED)
    make_run(owner, prompt_text="beta", status=Run.FAILED, model_name="Other")
    chat_run(owner, echo)
    client.force_login(owner)

    def found(query):
        html = client.get(f"/history/?{query}").content.decode()
        return {w for w in ("alpha", "beta", "Name a colour") if w in html}

    assert found("mode=chat") == {"Name a colour"}
    assert found("mode=completions") == {"alpha", "beta"}
    assert found("model=Other") == {"beta"}
    assert found("status=completed") == {"alpha", "Name a colour"}
    assert found("status=completed&mode=completions") == {"alpha"}
    assert found("status=bogus&mode=bogus") == {"alpha", "beta", "Name a colour"}


def test_it_searches_prompts_and_outputs(client, owner, outsider):
    make_run(owner, prompt_text="Tell me about otters", output_text="They hold hands")
    make_run(owner, prompt_text="Weather?", output_text="Rain over the HARBOUR today")
    make_run(outsider, prompt_text="harbour secrets")
    client.force_login(owner)
    html = client.get("/history/?q=harbour").content.decode()
    assert rows(html) == 1 and "Rain over the HARBOUR" in html
    assert "1 run found" in html
    html = client.get("/history/?q=otters").content.decode()
    assert rows(html) == 1 and "They hold hands" in html
    html = client.get("/history/?q=%25").content.decode()  # LIKE wildcards are literal
    assert rows(html) == 0 and "No run matches" in html


def test_it_keeps_filters_across_pages(client, owner):
    for i in range(51):
        make_run(owner, prompt_text=f"needle {i}")
    client.force_login(owner)
    html = client.get("/history/?q=needle&status=running").content.decode()
    assert 'href="?q=needle&amp;status=running&amp;page=2"' in html
    # A search does not count every match up front (see bench/README.md).
    assert rows(html) == 50 and "More than 50 runs found" in html and "Page 1<" in html
    html = client.get("/history/?q=needle&status=running&page=2").content.decode()
    assert rows(html) == 1 and "51 runs found" in html and "Page 2 of 2" in html
    assert rows(client.get("/history/?q=needle&page=x").content.decode()) == 50


def test_it_suggests_model_names_and_filters_by_any(client, owner, echo):
    make_run(owner, prompt_text="renamed since", model_name="Old name")
    client.force_login(owner)
    html = client.get("/history/").content.decode()
    assert '<option value="Echo">' in html
    assert "renamed since" in client.get("/history/?model=Old+name").content.decode()


def test_it_answers_htmx_with_the_table_alone(client, owner):
    make_run(owner, prompt_text="only the table")
    client.force_login(owner)
    html = client.get("/history/?q=table", HTTP_HX_REQUEST="true").content.decode()
    assert "only the table" in html and "<html" not in html
    restore = client.get(
        "/history/", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in restore.content.decode()


def test_it_shows_a_run_with_its_request_and_status(client, owner):
    run = make_run(owner, prompt_text="hello", status=Run.FAILED,
                   error="the provider refused the API key")
    client.force_login(owner)
    html = client.get(f"/history/runs/{run.uuid}/").content.decode()
    assert "the provider refused the API key" in html
    assert "&quot;prompt&quot;: &quot;hello&quot;" in html


def test_it_shows_the_runs_code_without_the_key(client, owner, echo):
    run = chat_run(owner, echo)
    client.force_login(owner)
    html = client.get(f"/history/runs/{run.uuid}/").content.decode()
    assert "http://127.0.0.1:9/v1/chat/completions" in html
    assert "client.chat.completions.create(" in html and "fetch(" in html
    assert "$OPENAI_API_KEY" in html
    assert "sk-secret" not in html


def test_it_hides_someone_elses_run(client, owner, outsider, echo):
    run = chat_run(owner, echo)
    client.force_login(outsider)
    for url in [f"/history/runs/{run.uuid}/", f"/history/runs/{run.uuid}/rerun/"]:
        assert client.get(url).status_code == 404
    for url in [f"/history/runs/{run.uuid}/fork/", f"/history/runs/{run.uuid}/delete/"]:
        assert client.post(url).status_code == 404
    assert Run.objects.filter(pk=run.pk).exists()
    assert not Conversation.objects.filter(owner=outsider).exists()


def test_it_reruns_with_the_same_parameters(client, owner, echo):
    conv = Conversation.objects.create(owner=owner, mode="chat", title="Colours")
    run = chat_run(owner, echo, conversation=conv)
    client.force_login(owner)
    html = client.get(f"/history/runs/{run.uuid}/rerun/").content.decode()
    assert 'data-mode="chat"' in html
    assert f'<option value="{echo.uuid}" selected' in html
    assert "Name a colour" in html and 'value="0.4"' in html
    assert "Re-run: Colours" in html
    # A new conversation starts when Run is pressed; nothing was saved yet.
    assert 'name="conversation" value=""' in html
    assert Conversation.objects.count() == 1


def test_it_forks_a_run_into_a_new_conversation(client, owner, echo):
    run = chat_run(owner, echo)
    client.force_login(owner)
    response = client.post(f"/history/runs/{run.uuid}/fork/")
    conv = Conversation.objects.get()
    assert response.url == f"/c/{conv.uuid}/"
    assert conv.owner == owner and conv.mode == "chat"
    assert conv.form == {"model": str(echo.uuid), "body": {
        k: v for k, v in run.request.items() if k != "model"}}
    assert conv.thread() == run.request["messages"]
    html = client.get(response.url).content.decode()
    assert "Name a colour" in html


def test_it_forks_a_completions_run(client, owner, echo):
    run = make_run(owner, model=echo, prompt_text="Once", request={"model": "echo-1",
                                                                   "prompt": "Once", "n": 2})
    client.force_login(owner)
    client.post(f"/history/runs/{run.uuid}/fork/")
    conv = Conversation.objects.get()
    # Sent without `stream`: a non-streamed run, and the form says so.
    assert conv.form["body"] == {"prompt": "Once", "n": 2, "stream": False}
    assert not Message.objects.exists()


def test_it_reruns_an_embedded_model_run_in_the_catalogues_words(client, owner, echo):
    # llama.cpp calls repetition_penalty repeat_penalty; the stored request
    # says what was sent, the form what the user set.
    run = make_run(owner, model=echo, prompt_text="Once", request={
        "model": "echo-1", "prompt": "Once", "repeat_penalty": 1.3, "stream": True})
    client.force_login(owner)
    client.post(f"/history/runs/{run.uuid}/fork/")
    assert Conversation.objects.get().form["body"] == {
        "prompt": "Once", "repetition_penalty": 1.3, "stream": True}


def test_it_deletes_my_run(client, owner):
    run = make_run(owner)
    client.force_login(owner)
    assert client.get(f"/history/runs/{run.uuid}/delete/").status_code == 405
    assert client.post(f"/history/runs/{run.uuid}/delete/").status_code == 302
    assert not Run.objects.exists()


def test_it_lists_and_deletes_my_conversations(client, owner, outsider, echo):
    mine = Conversation.objects.create(owner=owner, mode="chat", title="Mine")
    chat_run(owner, echo, conversation=mine)
    theirs = Conversation.objects.create(owner=outsider, mode="chat", title="Theirs")
    client.force_login(owner)
    html = client.get("/history/conversations/").content.decode()
    assert "Mine" in html and "Theirs" not in html
    assert client.post(f"/history/conversations/{theirs.uuid}/delete/").status_code == 404
    client.post(f"/history/conversations/{mine.uuid}/delete/")
    assert list(Conversation.objects.all()) == [theirs] and not Run.objects.exists()


def test_it_requires_login(client, owner):
    run = make_run(owner)
    for url in ["/history/", "/history/conversations/", f"/history/runs/{run.uuid}/"]:
        assert client.get(url).status_code == 302
