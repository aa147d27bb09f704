import pytest
from django.core.exceptions import ValidationError

from apps.inference.target import Target, Timeouts
from apps.providers.models import CATALOGUE_NAMES, Model, Provider


@pytest.fixture
def provider(db):
    return Provider.objects.create(
        name="Acme",
        base_url="https://llm.example/v1",
        api_key="sk-acme-0123456789abcdef",
        extra_headers={"X-Org": "acme"},
    )


def make_model(provider, upstream_id, **extra):
    return Model.objects.create(provider=provider, upstream_id=upstream_id, **extra)


def test_it_builds_the_adapter_target_with_the_plaintext_secrets(provider):
    provider.first_byte_timeout = 300
    provider.save()
    model = make_model(provider, "acme-large", accepted_fields=["temperature", "max_tokens"])

    target = Model.objects.get(pk=model.pk).target()

    assert target == Target(
        kind="openai",
        base_url="https://llm.example/v1",
        model="acme-large",
        api_key="sk-acme-0123456789abcdef",
        headers={"X-Org": "acme"},
        timeouts=Timeouts(connect=10.0, first_byte=300.0, between_chunks=60.0, total=600.0),
        accepted_fields=frozenset({"temperature", "max_tokens"}),
        known_fields=CATALOGUE_NAMES,
        unknown_fields="forward",
    )


def test_it_sends_no_key_when_none_is_set(db):
    provider = Provider.objects.create(name="Open", base_url="http://127.0.0.1:8080/v1")
    assert make_model(provider, "m").target().api_key is None


def test_it_lists_the_endpoints_a_model_serves(provider):
    assert make_model(provider, "both").endpoints() == ["completions", "chat"]
    assert make_model(provider, "chat-only", serves_completions=False).endpoints() == ["chat"]


def test_it_only_offers_models_whose_provider_is_enabled_too(provider):
    on = make_model(provider, "on")
    make_model(provider, "off", enabled=False)
    other = Provider.objects.create(name="Down", base_url="http://down/v1", enabled=False)
    make_model(other, "elsewhere")

    assert set(Model.objects.enabled().filter(provider__in=[provider, other])) == {on}


def test_it_filters_by_endpoint(provider):
    chat = make_model(provider, "chat", serves_completions=False)
    both = make_model(provider, "both")
    text = make_model(provider, "text", serves_chat=False)

    mine = Model.objects.filter(provider=provider)
    assert set(mine.for_endpoint("chat")) == {chat, both}
    assert set(mine.for_endpoint("completions")) == {both, text}
    with pytest.raises(ValueError):
        mine.for_endpoint("embeddings")


def test_it_resolves_a_gateway_name_to_an_enabled_model(provider):
    model = make_model(provider, "acme-large", display_name="Acme Large")
    make_model(provider, "acme-old", enabled=False)

    assert Model.objects.resolve("Acme Large") == model
    assert Model.objects.resolve("acme-large") == model
    assert Model.objects.resolve("acme-old") is None
    assert Model.objects.resolve("nope") is None


def test_it_prefers_a_display_name_over_another_models_upstream_id(provider):
    other = Provider.objects.create(name="Other", base_url="http://other/v1")
    renamed = make_model(other, "gpt-x", display_name="gpt-x (other)")
    named = make_model(provider, "acme-7b", display_name="gpt-x")

    assert Model.objects.resolve("gpt-x") == named
    assert Model.objects.resolve("gpt-x (other)") == renamed


def test_it_names_a_model_after_its_upstream_id_by_default(provider):
    assert make_model(provider, "acme-large").display_name == "acme-large"


def test_it_keeps_one_default_model(provider):
    first = make_model(provider, "first", is_default=True)
    second = make_model(provider, "second", is_default=True)

    first.refresh_from_db()
    assert not first.is_default and second.is_default
    assert Model.objects.default() == second


def test_it_falls_back_to_the_first_enabled_model_when_the_default_is_off(provider):
    Model.objects.update(is_default=False, enabled=False)
    make_model(provider, "later", position=5)
    first = make_model(provider, "first", position=1)
    make_model(provider, "gone", is_default=True, enabled=False)

    assert Model.objects.default() == first


def test_it_refuses_a_duplicate_upstream_id_per_provider(provider):
    make_model(provider, "acme-large")
    duplicate = Model(provider=provider, upstream_id="acme-large", display_name="again")
    with pytest.raises(ValidationError):
        duplicate.full_clean()


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://llm.example", "http"),
        ("llm.example/v1", "http"),
        ("https://user:sk-secret@llm.example/v1", "credentials"),
        ("https://llm.example/v1?key=sk-secret", "query"),
    ],
)
def test_it_refuses_a_bad_base_url(db, url, message):
    provider = Provider(name="Bad", base_url=url)
    with pytest.raises(ValidationError) as error:
        provider.full_clean()
    assert message in str(error.value)
    assert "sk-secret" not in str(error.value)


def test_it_accepts_a_service_name_and_trims_the_trailing_slash(db):
    provider = Provider(name="vLLM", base_url="http://vllm:8000/v1/")
    provider.full_clean()
    assert provider.base_url == "http://vllm:8000/v1"


def test_it_needs_a_base_url_except_for_the_embedded_model(db):
    with pytest.raises(ValidationError):
        Provider(name="No URL").full_clean()
    Provider(name="Embedded", kind="local").full_clean()


def test_it_gives_azure_a_default_api_version(db):
    azure = Provider(name="Azure", kind="azure", base_url="https://acme.openai.azure.com")
    azure.full_clean()
    assert azure.api_version


def test_it_refuses_headers_that_are_not_a_string_map(db):
    for headers in (["X-A"], {"X A": "b"}, {"X-A": 1}, {"X-A": "b\r\nX-B: c"}):
        provider = Provider(name="H", base_url="http://h/v1", extra_headers=headers)
        with pytest.raises(ValidationError):
            provider.full_clean()


def test_it_checks_accepted_fields_against_the_catalogue(provider):
    model = Model(provider=provider, upstream_id="m", accepted_fields=["temperature", "warmth"])
    with pytest.raises(ValidationError, match="warmth"):
        model.full_clean()
    model.accepted_fields = ["temperature", "max_tokens"]
    model.full_clean()
