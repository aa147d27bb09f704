""""View code": the snippets are valid, carry no key, and send exactly the body.

The Python snippet runs with the venv's `openai` SDK, the curl snippet with
curl and the JavaScript one with node, each against the real test upstream.
"""

import ast
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape

import pytest

from apps.catalog import fields_for, validate
from apps.presets.code import SDK_PARAMS, render_code
from apps.providers.models import Model, Provider

pytestmark = pytest.mark.django_db

KEY = "sk-test-from-the-environment"

CHAT = {
    "messages": [
        {"role": "system", "content": 'Quote "this", a back\\slash and \'that\'.'},
        {"role": "user", "content": "Zürich → 東京?\nTwo lines. EOF\nJSON"},
    ],
    "temperature": 0.5,
    "max_tokens": 20,
    "stop": ["\n\n", "END"],
    "seed": 7,
    "logit_bias": {"50256": -100},
    "repetition_penalty": 1.1,  # not an SDK argument: goes in extra_body
    "tools": [{"type": "function", "function": {
        "name": "lookup", "description": "Find", "parameters": {
            "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"],
            "additionalProperties": False}}}],
    "tool_choice": "auto",
    "response_format": {"type": "json_object"},
    "user": None,
}
COMPLETIONS = {"prompt": ["Once upon", "a time"], "temperature": 0, "echo": True,
               "ignore_eos": False, "n": 2, "max_tokens": 5}


def clean(model, mode, body):
    return validate(mode, {**body, "model": model.upstream_id})


def sdk_arguments(endpoint):
    from openai.resources.chat.completions import Completions as Chat
    from openai.resources.completions import Completions

    create = Chat.create if endpoint == "chat" else Completions.create
    return set(inspect.signature(create).parameters)


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_it_knows_which_fields_the_sdk_takes_as_arguments(endpoint):
    names = {f.name for f in fields_for(endpoint)}
    assert SDK_PARAMS[endpoint] == names & sdk_arguments(endpoint)


@pytest.mark.parametrize("mode,body", [("chat", CHAT), ("completions", COMPLETIONS)])
@pytest.mark.parametrize("stream", [False, True])
def test_it_writes_valid_python_with_the_same_body(fake_model, mode, body, stream):
    body = clean(fake_model, mode, {**body, "stream": stream})
    code = render_code(body, mode, fake_model)["python"]
    tree = ast.parse(code)
    compile(code, "snippet.py", "exec")
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.keywords
                and ast.unparse(n.func).endswith(".create"))
    sent = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg != "extra_body"}
    extra = next((ast.literal_eval(k.value) for k in call.keywords if k.arg == "extra_body"), {})
    assert {**sent, **extra} == body
    assert ("for chunk in stream" in code) is stream


def run_snippet(args, upstream, env_name="OPENAI_API_KEY", **kw):
    env = {**os.environ, env_name: KEY}
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env, **kw)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("mode,body", [("chat", CHAT), ("completions", COMPLETIONS)])
@pytest.mark.parametrize("stream", [False, True])
def test_the_python_snippet_sends_exactly_the_body(fake_model, upstream, tmp_path, mode, body,
                                                   stream):
    upstream.require_key(KEY)
    upstream.behave(text="Paris is lovely")
    body = clean(fake_model, mode, {**body, "stream": stream})
    path = tmp_path / "snippet.py"
    path.write_text(render_code(body, mode, fake_model)["python"])
    out = run_snippet([sys.executable, str(path)], upstream)
    assert upstream.last.json == body
    assert upstream.last.path.endswith("/chat/completions" if mode == "chat" else "/completions")
    # Several choices stream interleaved ("ParisParis is is..."): look for one word.
    assert "lovely" in out


@pytest.mark.parametrize("stream", [False, True])
def test_the_curl_snippet_sends_exactly_the_body(fake_model, upstream, stream):
    if not shutil.which("curl"):
        pytest.skip("curl is not installed here; the curl snippet cannot be run")
    upstream.require_key(KEY)
    upstream.behave(text="Bonjour")
    body = clean(fake_model, "chat", {**CHAT, "stream": stream})
    code = render_code(body, "chat", fake_model)["curl"]
    out = run_snippet(["bash", "-c", code], upstream)
    assert upstream.last.json == body
    assert "Bonjour" in out


@pytest.mark.parametrize("stream", [False, True])
def test_the_javascript_snippet_sends_exactly_the_body(fake_model, upstream, tmp_path, stream):
    if not shutil.which("node"):
        pytest.skip("node is not installed here; the JavaScript snippet cannot be run")
    upstream.require_key(KEY)
    upstream.behave(text="Hola amigo")
    body = clean(fake_model, "completions", {**COMPLETIONS, "stream": stream})
    path = tmp_path / "request.mjs"
    path.write_text(render_code(body, "completions", fake_model)["javascript"])
    out = run_snippet(["node", str(path)], upstream)
    assert upstream.last.json == body
    assert "Hola amigo" in out


def test_it_never_shows_the_key(fake_model):
    fake_model.provider.extra_headers = {"X-Org": "org-secret-value"}
    fake_model.provider.save()
    fake_model.refresh_from_db()
    snippets = render_code(clean(fake_model, "chat", CHAT), "chat", fake_model)
    for text in snippets.values():
        assert "sk-test-secret" not in text and "org-secret-value" not in text
        assert "X-Org" in text  # named, so the reader knows to add it
    assert '"Authorization: Bearer $OPENAI_API_KEY"' in snippets["curl"]
    assert 'api_key=os.environ["OPENAI_API_KEY"]' in snippets["python"]
    assert "process.env.OPENAI_API_KEY" in snippets["javascript"]


def test_it_writes_azure_requests(upstream, tmp_path, db):
    provider = Provider.objects.create(name="Azure", kind="azure", base_url=upstream.base,
                                       api_key="azure-secret-key-0123456789",
                                       api_version="2024-10-21")
    model = Model.objects.create(provider=provider, upstream_id="my-deploy", display_name="Az")
    upstream.require_key(KEY)
    body = clean(model, "chat", {"messages": [{"role": "user", "content": "hi"}]})
    snippets = render_code(body, "chat", model)
    url = f"{upstream.base}/openai/deployments/my-deploy/chat/completions?api-version=2024-10-21"
    assert f"curl '{url}'" in snippets["curl"]
    assert '"api-key: $AZURE_OPENAI_API_KEY"' in snippets["curl"]
    assert "AzureOpenAI(" in snippets["python"]
    assert '"api-key": process.env.AZURE_OPENAI_API_KEY' in snippets["javascript"]
    assert "azure-secret" not in "".join(snippets.values())

    path = tmp_path / "azure.py"
    path.write_text(snippets["python"])
    run_snippet([sys.executable, str(path)], upstream, env_name="AZURE_OPENAI_API_KEY")
    assert upstream.last.azure_deployment == "my-deploy"
    assert upstream.last.query["api-version"] == "2024-10-21"
    assert upstream.last.json == body
    if shutil.which("curl"):
        run_snippet(["bash", "-c", snippets["curl"]], upstream, env_name="AZURE_OPENAI_API_KEY")
        assert upstream.last.json == body and upstream.last.azure_deployment == "my-deploy"


def test_it_sends_the_embedded_model_through_the_gateway(db, settings):
    provider = Provider.objects.create(name="Embedded", kind="local")
    model = Model.objects.create(provider=provider, upstream_id="SmolLM2-135M-Instruct",
                                 display_name="SmolLM2")
    body = clean(model, "completions", {"prompt": "Hi"})
    snippets = render_code(body, "completions", model, gateway_url="https://play.example/v1")
    assert "curl https://play.example/v1/completions" in snippets["curl"]
    assert "$PLAYGROUND_API_KEY" in snippets["curl"]
    assert '"model": "SmolLM2"' in snippets["curl"]  # the gateway's name for it
    assert 'base_url="https://play.example/v1"' in snippets["python"]
    assert "process.env.PLAYGROUND_API_KEY" in snippets["javascript"]
    # A run's stored request has llama.cpp's spelling; the gateway takes the catalogue's.
    stored = {"model": "SmolLM2-135M-Instruct", "prompt": "Hi", "repeat_penalty": 1.2}
    python = render_code(stored, "completions", model)["python"]
    assert 'extra_body={"repetition_penalty": 1.2}' in python and "repeat_penalty" not in python


def curl_body(curl):
    return json.loads(re.search(r"<<'JSON'\n(.*)\nJSON\n", curl, re.S).group(1))


def post_code(client, form):
    """The View code button as htmx posts it: the playground's form as fields."""
    return client.post("/presets/code/", {**form, "body": json.dumps(form["body"])},
                       HTTP_HX_REQUEST="true")


def snippet(html, lang):
    """A snippet's text as the dialog shows it."""
    start = html.index(f'id="code-{lang}">') + len(f'id="code-{lang}">')
    return unescape(html[start:html.index("</pre>", start)])


def test_the_code_endpoint_renders_the_form(client, owner, fake_model):
    client.force_login(owner)
    form = {"mode": "chat", "model": str(fake_model.uuid),
            "body": {"messages": [{"role": "user", "content": "Hi"}], "temperature": None,
                     "stream": True}}
    html = post_code(client, form).content.decode()
    curl = snippet(html, "curl")
    # What a run of this form sends: the adapter asks for usage when streaming.
    assert curl_body(curl) == {
        "model": "echo-1", "messages": [{"role": "user", "content": "Hi"}], "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert "-N " in curl
    assert 'id="code-dialog"' in html and 'id="code-python"' in html and "data-copy" in html
    assert "http://testserver/v1" not in html  # an OpenAI-kind provider: its own URL


def test_the_code_endpoint_leaves_out_what_the_model_does_not_take(client, owner, fake_model):
    fake_model.accepted_fields = ["temperature"]
    fake_model.save()
    client.force_login(owner)
    form = {"mode": "completions", "model": str(fake_model.uuid),
            "body": {"prompt": "x", "temperature": 0.5, "seed": 3, "stream": False}}
    html = post_code(client, form).content.decode()
    assert curl_body(snippet(html, "curl")) == {"model": "echo-1", "prompt": "x",
                                                "temperature": 0.5}


def test_the_code_endpoint_shows_the_catalogues_errors(client, owner, fake_model):
    client.force_login(owner)
    form = {"mode": "completions", "model": str(fake_model.uuid),
            "body": {"prompt": "x", "temperature": 9}}
    response = post_code(client, form)
    assert response.status_code == 400
    assert "temperature must be between 0 and 2" in response.content.decode()
    response = post_code(client, {**form, "model": ""})
    assert "choose a model that serves completions" in response.content.decode()
    response = client.post("/presets/code/", {**form, "body": "{"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "body is not valid JSON" in response.content.decode()


def test_the_code_endpoint_shows_no_request_the_provider_would_refuse(client, owner, fake_model):
    Provider.objects.filter(pk=fake_model.provider_id).update(unknown_fields="refuse")
    client.force_login(owner)
    form = {"mode": "chat", "model": str(fake_model.uuid),
            "body": {"messages": [{"role": "user", "content": "Hi"}], "top_k": 5}}
    response = post_code(client, form)
    html = response.content.decode()
    assert response.status_code == 400 and 'id="code-curl"' not in html
    assert "Fix the form first" in html
    assert ("top_k is not a field of /v1/chat/completions, and this provider takes no "
            "fields beyond the catalogue&#x27;s") in html
    # Without the extra, the same form is code again.
    del form["body"]["top_k"]
    assert 'id="code-curl"' in post_code(client, form).content.decode()
