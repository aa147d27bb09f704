"""Each server process keeps gateway keys and models in memory (apps/runs/
cache.py): a revoked key, a disabled model or a deactivated owner must still
stop working in every process, at once when saved as the pages and the admin
save, within a second when changed behind the signals' back."""

import re
import time

import httpx

from apps.providers.models import Model
from apps.runs import cache

from .test_limits import session_cookies


def chat(server, secret, model="Echo"):
    return httpx.post(
        f"{server}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=15,
    )


def revoke_on_the_keys_page(server, user, key):
    """What the owner does: open the keys page of `server`, press Revoke."""
    with httpx.Client(base_url=server, cookies=session_cookies(user), timeout=15) as browser:
        page = browser.get("/settings/keys/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = browser.post(f"/settings/keys/{key.uuid}/revoke/",
                              data={"csrfmiddlewaretoken": token})
    assert answer.status_code == 302


def test_it_refuses_a_key_revoked_in_another_process_at_once(
    app_url, second_app_url, fake_model, owner, key
):
    gateway_key, secret = key
    for server in (app_url, second_app_url, app_url, second_app_url):
        assert chat(server, secret).status_code == 200  # both have it in memory now

    revoke_on_the_keys_page(app_url, owner, gateway_key)

    for server in (second_app_url, app_url):
        refused = chat(server, secret)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_api_key"


def test_it_stops_serving_a_disabled_model_and_a_deactivated_owner(
    app_url, second_app_url, fake_model, owner, secret
):
    for server in (app_url, second_app_url):
        assert chat(server, secret).status_code == 200

    fake_model.enabled = False
    fake_model.save()  # as the model's admin page does
    for server in (app_url, second_app_url):
        refused = chat(server, secret)
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "model_not_found"

    fake_model.enabled = True
    fake_model.save()
    assert chat(second_app_url, secret).status_code == 200
    owner.is_active = False
    owner.save()
    for server in (app_url, second_app_url):
        assert chat(server, secret).status_code == 401


def test_it_sees_a_change_that_sent_no_signal_within_the_cache_lifetime(
    app_url, second_app_url, fake_model, owner, secret
):
    for server in (app_url, second_app_url):
        assert chat(server, secret).status_code == 200

    # The admin's "Disable selected models" is a queryset update: no signal.
    Model.objects.filter(pk=fake_model.pk).update(enabled=False)
    time.sleep(cache.TTL + 0.1)

    for server in (app_url, second_app_url):
        assert chat(server, secret).status_code == 404
