import pytest

from apps.presets.models import Preset


@pytest.fixture
def preset(owner, fake_model):
    return Preset.create(
        owner, "Haiku writer", "Short poems", "chat", fake_model,
        {"messages": [{"role": "user", "content": "Write a haiku"}], "temperature": 0.7},
    )
