import pytest

from apps.catalog import ValidationFailed
from apps.presets.models import Preset, clean_body

pytestmark = pytest.mark.django_db


def test_it_keeps_every_version(preset, fake_model):
    preset.add_version("Haiku writer", "", "chat", fake_model,
                       {"messages": [{"role": "user", "content": "Two haiku"}]})
    preset.add_version("Limericks", "Longer", "completions", fake_model, {"prompt": "There once"})
    assert list(preset.versions.values_list("number", flat=True)) == [3, 2, 1]
    preset.refresh_from_db()
    assert (preset.name, preset.mode) == ("Limericks", "completions")
    assert preset.version(1).body["temperature"] == 0.7
    assert preset.latest.body == {"prompt": "There once"}


def test_it_gives_the_playground_form(preset, fake_model):
    assert preset.latest.form() == {
        "model": str(fake_model.uuid),
        "body": {"messages": [{"role": "user", "content": "Write a haiku"}], "temperature": 0.7},
    }


def test_it_validates_a_body_through_the_catalogue(fake_model):
    assert clean_body("chat", fake_model, {"messages": [{"role": "user", "content": "x"}],
                                          "temperature": None}) == {
        "messages": [{"role": "user", "content": "x"}]
    }
    with pytest.raises(ValidationFailed) as e:
        clean_body("completions", fake_model, {"prompt": "x", "temperature": 9, "n": 0})
    assert {err.field for err in e.value.errors} == {"temperature", "n"}
    # Extra parameters (provider fields) are kept, as the playground sends them.
    assert clean_body("completions", fake_model, {"prompt": "x", "top_k": 5})["top_k"] == 5


def test_it_shares_by_an_unguessable_token_and_revokes(preset):
    assert not preset.is_shared
    preset.share()
    first = preset.share_token
    assert len(first) >= 32 and str(preset.uuid) not in first
    assert Preset.objects.shared(first).get() == preset
    preset.share()  # a new link: the old one dies
    assert not Preset.objects.shared(first).exists()
    preset.unshare()
    assert preset.share_token is None
    assert not Preset.objects.shared("").exists()


def test_it_forks_into_a_private_copy(preset, teammate):
    preset.share()
    copy = preset.fork(teammate)
    assert copy.owner == teammate and copy.forked_from == preset
    assert not copy.is_shared
    assert copy.name == "Haiku writer"
    assert copy.latest.body == preset.latest.body and copy.latest.number == 1
    assert preset.fork(preset.owner).name == "Haiku writer (copy)"


def test_it_keeps_the_model_name_when_the_model_is_gone(preset, fake_model, teammate):
    fake_model.delete()
    preset.refresh_from_db()
    assert preset.latest.model is None
    assert preset.as_export()["model"] == "Echo"
    assert preset.fork(teammate).latest.model_name == "Echo"
