import pytest

from apps.presets.models import Preset
from apps.providers.models import Model, Provider


@pytest.fixture
def fake_model(upstream, db):
    """An enabled model on a provider that points at the test upstream
    (as in apps/studio/tests/conftest.py)."""
    provider = Provider.objects.create(
        name="Test upstream",
        kind="openai",
        base_url=upstream.url,
        api_key="sk-test-secret-key-0123456789",
        connect_timeout=2,
        first_byte_timeout=5,
        between_chunks_timeout=5,
        total_timeout=20,
    )
    return Model.objects.create(provider=provider, upstream_id="echo-1", display_name="Echo")


@pytest.fixture
def preset(owner, fake_model):
    return Preset.create(
        owner, "Haiku writer", "Short poems", "chat", fake_model,
        {"messages": [{"role": "user", "content": "Write a haiku"}], "temperature": 0.7},
    )
