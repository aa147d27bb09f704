import pytest

from conftest import PASSWORD


def test_it_sends_anonymous_users_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_it_signs_in_and_shows_the_playground(client, owner):
    response = client.post(
        "/accounts/login/", {"username": "owner", "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert b"Sign out" in response.content
    assert b"owner" in response.content


def test_it_refuses_a_wrong_password(client, owner):
    response = client.post("/accounts/login/", {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert b"did not match" in response.content


@pytest.mark.browser
def test_it_signs_in_in_a_real_browser(signed_in, owner, page):
    signed_in(owner)
    assert page.locator("header .who").inner_text() == "owner"
    assert page.title() == "Chat · Playground"
