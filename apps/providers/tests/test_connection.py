"""Test connection and Discover models, against the real local test upstream."""

import socket

import pytest
from cryptography.fernet import Fernet
from django.contrib.messages import ERROR, SUCCESS, get_messages
from django.test import override_settings

from apps.providers.models import Model, Provider

KEY = "sk-live-7f3a9c1e5b2d4f6a8c0e"
LIST = "/admin/providers/provider/"


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def provider(db, upstream):
    upstream.require_key(KEY)
    return Provider.objects.create(
        name="Acme", base_url=upstream.url, api_key=KEY, connect_timeout=2, total_timeout=10
    )


def closed_port():
    # Bound then closed: nothing listens there, so a connect is refused at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_action(client, action, provider):
    response = client.post(LIST, {"action": action, "_selected_action": [provider.pk]}, follow=True)
    # Back to the list, whatever happened upstream; the page shows (and so
    # consumes) the messages.
    assert response.redirect_chain == [(LIST, 302)]
    return [(m.level, m.message) for m in get_messages(response.wsgi_request)]


def assert_no_secret(text):
    assert KEY not in text
    assert KEY[-4:] not in text  # not even the fragment upstreams echo back


def test_it_reports_a_working_connection(admin_client, provider, upstream):
    assert run_action(admin_client, "test_connection", provider) == [
        (SUCCESS, "Acme: Connected: 2 models")
    ]
    assert upstream.last.headers["authorization"] == f"Bearer {KEY}"


def test_it_sends_the_extra_headers(admin_client, provider, upstream):
    provider.extra_headers = {"X-Org": "acme"}
    provider.save()
    run_action(admin_client, "test_connection", provider)
    assert upstream.last.headers["x-org"] == "acme"


def test_it_reports_a_refused_key_without_showing_it(admin_client, provider, upstream):
    upstream.require_key("sk-some-other-key-000000")

    [(level, message)] = run_action(admin_client, "test_connection", provider)

    assert level == ERROR and message.startswith("Acme: ")
    assert "key" in message.lower()
    assert_no_secret(message)


def test_it_reports_an_unreachable_backend(admin_client, provider, upstream):
    provider.base_url = f"http://127.0.0.1:{closed_port()}/v1"
    provider.save()

    [(level, message)] = run_action(admin_client, "test_connection", provider)

    assert level == ERROR and message.startswith("Acme: ")
    assert_no_secret(message)
    assert not upstream.requests


def test_it_reports_a_key_it_cannot_decrypt_without_calling_upstream(
    admin_client, provider, upstream
):
    with override_settings(FERNET_KEYS=[Fernet.generate_key().decode()]):
        [(level, message)] = run_action(admin_client, "test_connection", provider)
    assert level == ERROR and "FERNET_KEYS" in message
    assert not upstream.requests


def test_it_connects_to_azure_with_the_api_key_header(admin_client, db, upstream):
    upstream.require_key(KEY)
    azure = Provider.objects.create(
        name="Azure", kind="azure", base_url=upstream.base, api_key=KEY, api_version="2024-10-21"
    )

    assert run_action(admin_client, "test_connection", azure) == [
        (SUCCESS, "Azure: Connected: 2 models")
    ]
    assert upstream.last.headers["api-key"] == KEY
    assert upstream.last.query["api-version"] == "2024-10-21"


def test_it_discovers_new_models_disabled(admin_client, provider, upstream):
    upstream.models = ["echo-1", "echo-2", "echo-3"]
    Model.objects.create(provider=provider, upstream_id="echo-1")

    assert run_action(admin_client, "discover_models", provider) == [
        (
            SUCCESS,
            "Acme: 2 new models added (disabled: enable the ones users should see), "
            "1 already known.",
        )
    ]
    found = Model.objects.filter(provider=provider).order_by("upstream_id")
    assert [(m.upstream_id, m.enabled) for m in found] == [
        ("echo-1", True),
        ("echo-2", False),
        ("echo-3", False),
    ]

    assert run_action(admin_client, "discover_models", provider) == [
        (SUCCESS, "Acme: 0 new models added, 3 already known.")
    ]


def test_it_names_a_discovered_model_apart_from_another_providers(provider, upstream):
    other = Provider.objects.create(name="Other", base_url="http://other.example/v1")
    Model.objects.create(provider=other, upstream_id="echo-1")

    created, existing = provider.discover_models()

    assert [m.display_name for m in created] == ["echo-1 (Acme)", "echo-2"]
    assert existing == []
    assert Model.objects.resolve("echo-1").provider == other


def test_it_adds_nothing_when_discovery_fails(admin_client, provider, upstream):
    upstream.behave(status=503)
    [(level, message)] = run_action(admin_client, "discover_models", provider)
    assert level == ERROR
    assert not Model.objects.filter(provider=provider).exists()
