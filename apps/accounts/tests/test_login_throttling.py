"""Sign-in throttling (django-axes): wrong passwords for one user from one
address lock that pair out for a while, on the site's and the admin's
sign-in; staff can unlock early in admin."""

import re
from datetime import timedelta

import httpx
import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.utils import timezone

from conftest import PASSWORD

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
HERE, ELSEWHERE = "127.0.0.1", "10.0.0.7"


def sign_in(client, username, password=PASSWORD, url=LOGIN, address=HERE):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def fail_until_locked(client, username, url=LOGIN):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert sign_in(client, username, "wrong", url=url).status_code in (200, 429)


def signed_in_as(client):
    response = client.get("/")
    return response.status_code == 200 and response.context["user"].get_username()


def test_it_refuses_the_right_password_after_too_many_wrong_ones(client, owner):
    fail_until_locked(client, "owner")

    response = sign_in(client, "owner")

    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many failed sign-ins for this account from your address" in html
    assert "Try again in 15 minutes" in html
    assert 'name="password"' in html  # still the sign-in page
    assert int(response["Retry-After"]) == 15 * 60
    assert not signed_in_as(client)


def test_it_locks_the_admin_sign_in_too(client, staff):
    fail_until_locked(client, "staff", url=ADMIN_LOGIN)

    response = sign_in(client, "staff", url=ADMIN_LOGIN)

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_it_locks_only_that_user_from_that_address(client, owner, teammate):
    fail_until_locked(client, "owner")

    assert sign_in(client, "teammate").status_code == 302
    client.logout()
    # A stranger failing on purpose cannot lock the owner out everywhere.
    assert sign_in(client, "owner", address=ELSEWHERE).status_code == 302
    assert signed_in_as(client) == "owner"


def test_it_lets_the_user_in_after_the_cool_off(client, owner):
    fail_until_locked(client, "owner")
    assert sign_in(client, "owner").status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert sign_in(client, "owner").status_code == 302
    assert signed_in_as(client) == "owner"


def test_it_is_unlocked_by_staff_in_admin(client, owner, staff):
    fail_until_locked(client, "owner")
    assert sign_in(client, "owner").status_code == 429

    client.force_login(staff)
    attempts = client.get("/admin/axes/accessattempt/").content.decode()
    assert "owner" in attempts
    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    response = client.post("/admin/axes/accessattempt/", {
        "action": "delete_selected", "_selected_action": ids, "post": "yes",
    })
    assert response.status_code == 302
    client.logout()

    assert sign_in(client, "owner").status_code == 302
    assert signed_in_as(client) == "owner"


@pytest.mark.parametrize("failures", [1, 4])
def test_a_right_password_before_the_limit_signs_in_and_forgets_the_failures(
    client, owner, failures
):
    for _ in range(failures):
        sign_in(client, "owner", "wrong")
    assert sign_in(client, "owner").status_code == 302
    assert not AccessAttempt.objects.filter(username="owner").exists()


def test_it_says_so_on_the_live_servers_sign_in_page(app_url, owner):
    # daphne runs the middleware chain asynchronously: axes' other code path.
    with httpx.Client(base_url=app_url) as browser:
        def attempt(password):
            page = browser.get(LOGIN).text
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
            return browser.post(LOGIN, data={"username": "owner", "password": password,
                                             "csrfmiddlewaretoken": token})

        for _ in range(settings.AXES_FAILURE_LIMIT):
            attempt("wrong")
        response = attempt(PASSWORD)

    assert response.status_code == 429
    assert "Too many failed sign-ins for this account from your address" in response.text
