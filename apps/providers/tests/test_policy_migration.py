"""The migration that adds the unknown-fields policy gives existing providers
their kind's default: refuse for OpenAI's API and Azure, forward for the rest."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("providers", "0003_model_prices")]
AFTER = [("providers", "0004_unknown_fields_policy_and_field_notes")]


@pytest.mark.django_db(transaction=True)
def test_it_sets_each_existing_providers_default_policy():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("providers", "Provider")
    for name, kind, url in [
        ("OpenAI", "openai", "https://api.openai.com/v1"),
        ("Azure", "azure", "https://acme.openai.azure.com"),
        ("vLLM", "openai", "http://10.0.0.5:8000/v1"),
        ("Embedded", "local", ""),
    ]:
        old.objects.create(name=name, kind=kind, base_url=url)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("providers", "Provider")
    mine = new.objects.filter(name__in=["OpenAI", "Azure", "vLLM", "Embedded"])
    assert dict(mine.values_list("name", "unknown_fields")) == {
        "OpenAI": "refuse", "Azure": "refuse", "vLLM": "forward", "Embedded": "forward"}

    # Leave the database at the latest state for the tests after this one.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
