from django.test import override_settings

from apps.inference.local import LOCAL_ACCEPTED_FIELDS, local_model_id
from apps.providers.models import LOCAL_PROVIDER_NAME, Model, Provider, ensure_local_provider


def test_it_registers_the_embedded_model_after_migrate(db):
    # The test database was migrated, so post_migrate has already run.
    model = Model.objects.get(provider__kind="local")
    assert model.provider.name == LOCAL_PROVIDER_NAME
    assert model.upstream_id == local_model_id()
    assert model.endpoints() == ["completions", "chat"]
    assert model.is_default and model.enabled
    assert Model.objects.default() == model
    assert model.target().accepted_fields == LOCAL_ACCEPTED_FIELDS


def test_it_is_idempotent(db):
    first = ensure_local_provider()
    second = ensure_local_provider()

    assert first == second
    assert Provider.objects.filter(kind="local").count() == 1
    assert Model.objects.filter(provider__kind="local").count() == 1


def test_it_never_undoes_a_staff_change(db):
    local = ensure_local_provider()
    local.provider.name = "Tiny model"
    local.provider.save()
    local.enabled = False
    local.save()
    other = Provider.objects.create(name="Acme", base_url="https://llm.example/v1")
    chosen = Model.objects.create(provider=other, upstream_id="acme-large", is_default=True)

    assert ensure_local_provider() == local
    local.refresh_from_db()
    assert local.provider.name == "Tiny model" and not local.enabled
    assert Model.objects.get(is_default=True) == chosen


def test_it_recreates_a_deleted_embedded_model_without_taking_the_default(db):
    Provider.objects.filter(kind="local").delete()
    other = Provider.objects.create(name="Acme", base_url="https://llm.example/v1")
    chosen = Model.objects.create(provider=other, upstream_id="acme-large", is_default=True)

    model = ensure_local_provider()

    assert model.provider.kind == "local" and not model.is_default
    assert Model.objects.get(is_default=True) == chosen


def test_it_does_nothing_when_the_embedded_model_is_off(db):
    Provider.objects.filter(kind="local").delete()
    with override_settings(PLAYGROUND_LOCAL_MODEL=False):
        assert ensure_local_provider() is None
    assert not Provider.objects.filter(kind="local").exists()


def test_it_is_offered_first_in_a_fresh_install(db):
    local = Model.objects.resolve(local_model_id())
    assert local is not None
    assert local.target().kind == "local" and local.target().api_key is None
