"""What each model accepts (and why not) and each provider's policy for extra
parameters: defaults per kind, Discover models, the admin."""

import pytest

from apps.inference import local
from apps.inference.local import LOCAL_ACCEPTED_FIELDS, LOCAL_FIELD_NOTES
from apps.providers.models import Model, Provider, ensure_local_provider

KEY = "sk-live-7f3a9c1e5b2d4f6a8c0e"


@pytest.mark.parametrize(("kind", "base_url", "policy"), [
    ("openai", "http://127.0.0.1:8000/v1", "forward"),  # vLLM, llama.cpp, any self-hosted one
    ("openai", "https://api.openai.com/v1", "refuse"),
    ("azure", "https://acme.openai.azure.com", "refuse"),
    ("local", "", "forward"),
])
def test_it_defaults_the_unknown_fields_policy_by_kind(db, kind, base_url, policy):
    provider = Provider.objects.create(name=kind + base_url, kind=kind, base_url=base_url)
    assert provider.unknown_fields == policy
    assert provider.target().unknown_fields == policy


def test_it_keeps_the_policy_staff_chose(db):
    provider = Provider.objects.create(name="OpenAI", base_url="https://api.openai.com/v1",
                                       unknown_fields="drop")
    assert Provider.objects.get(pk=provider.pk).target().unknown_fields == "drop"


def test_it_gives_the_embedded_model_the_adapters_own_list_and_reasons(db, settings):
    settings.PLAYGROUND_LOCAL_MODEL = True
    model = ensure_local_provider()
    assert set(model.accepted_fields) == LOCAL_ACCEPTED_FIELDS
    refused = model.capabilities()["refused"]
    assert refused["echo"] == "llama.cpp ignores echo: the prompt is not echoed back"
    assert refused["suffix"].startswith("llama.cpp ignores suffix")
    assert refused["best_of"].startswith("llama.cpp ignores best_of")
    assert refused["tools"] == refused["tool_choice"] == refused["parallel_tool_calls"]
    assert "no tools" in refused["tools"]
    assert "temperature" not in refused and "messages" not in refused
    assert model.capabilities()["unknown_fields"] == "forward"


def test_it_lets_staff_say_why_a_model_refuses_a_field(db):
    provider = Provider.objects.create(name="Team llama.cpp", base_url="http://127.0.0.1:1/v1")
    model = Model.objects.create(provider=provider, upstream_id="qwen",
                                 accepted_fields=["temperature"],
                                 field_notes={"echo": "llama.cpp ignores echo"})
    refused = model.capabilities()["refused"]
    assert refused["echo"] == "llama.cpp ignores echo"
    assert refused["top_p"] == "qwen does not accept top_p"
    # Everything accepted: nothing refused.
    model.accepted_fields = None
    assert model.capabilities() == {"refused": {}, "unknown_fields": "forward"}


def test_it_refuses_notes_that_are_not_field_reasons(db):
    from django.core.exceptions import ValidationError

    provider = Provider.objects.create(name="P", base_url="http://127.0.0.1:1/v1")
    model = Model(provider=provider, upstream_id="m", field_notes=["echo"])
    with pytest.raises(ValidationError) as raised:
        model.full_clean()
    assert "field_notes" in raised.value.message_dict


def test_it_discovers_models_with_the_kinds_default_capabilities(db, upstream):
    upstream.require_key(KEY)
    upstream.models = ["gpt-x"]
    azure = Provider.objects.create(name="Azure", kind="azure", base_url=upstream.base,
                                    api_key=KEY, api_version="2024-10-21")
    (model,) = azure.discover_models()[0]
    refused = model.capabilities()["refused"]
    assert set(refused) == {"ignore_eos", "repetition_penalty"}
    assert refused["repetition_penalty"] == (
        "OpenAI has no repetition_penalty: use frequency_penalty")

    vllm = Provider.objects.create(name="vLLM", base_url=upstream.url, api_key=KEY)
    (model,) = vllm.discover_models()[0]
    assert model.accepted_fields is None and model.capabilities()["refused"] == {}


def test_it_edits_the_policy_and_the_reasons_in_the_admin(client, staff, db):
    client.force_login(staff)
    provider = Provider.objects.create(name="Team vLLM", base_url="http://127.0.0.1:1/v1")
    model = Model.objects.create(provider=provider, upstream_id="m")
    page = client.get(f"/admin/providers/provider/{provider.pk}/change/").content.decode()
    assert 'name="unknown_fields"' in page and "Drop them with a notice" in page
    page = client.get(f"/admin/providers/model/{model.pk}/change/").content.decode()
    assert 'name="field_notes"' in page and 'name="accepted_fields"' in page


def test_it_discovers_a_llama_cpp_servers_models_without_what_llama_cpp_ignores(db):
    # A real llama.cpp server: the embedded one, reached as any self-hosted server.
    base_url, api_key = local.ensure_started()
    provider = Provider.objects.create(name="Team llama.cpp", base_url=base_url, api_key=api_key)
    (model,) = provider.discover_models()[0]
    refused = model.capabilities()["refused"]
    assert refused["echo"] == LOCAL_FIELD_NOTES["echo"]
    assert {"suffix", "best_of", "metadata"} <= set(refused)
    # Unlike SmolLM2's own entry, another model's template may have tools.
    assert "tools" not in refused and "temperature" not in refused
    assert model.capabilities()["unknown_fields"] == "forward"
