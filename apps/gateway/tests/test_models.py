"""GET /v1/models lists the enabled models in OpenAI's shape; one model by name."""

import httpx

from apps.providers.models import Model


def test_it_lists_the_enabled_models(app_url, secret, fake_model):
    Model.objects.create(provider=fake_model.provider, upstream_id="echo-2", enabled=False)
    fake_model.provider.models.create(upstream_id="echo-3", display_name="Echo three")
    response = httpx.get(f"{app_url}/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    listing = response.json()
    assert listing["object"] == "list"
    ours = [m for m in listing["data"] if m["owned_by"] == "Test upstream"]
    assert [m["id"] for m in ours] == ["Echo", "Echo three"]
    created = int(fake_model.provider.created.timestamp())
    assert ours[0] == {"id": "Echo", "object": "model", "created": created,
                       "owned_by": "Test upstream"}


def test_it_needs_a_key(app_url, fake_model):
    assert httpx.get(f"{app_url}/v1/models").status_code == 401


def test_it_shows_one_model_by_name_or_upstream_id(sdk, fake_model):
    assert sdk.models.retrieve("Echo").id == "Echo"
    assert sdk.models.retrieve("echo-1").id == "Echo"
