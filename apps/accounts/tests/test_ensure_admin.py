from django.contrib.auth import get_user_model
from django.core.management import call_command


def test_it_creates_one_admin_and_prints_the_password_once(db, capsys, monkeypatch):
    monkeypatch.delenv("PLAYGROUND_ADMIN_PASSWORD", raising=False)
    call_command("ensure_admin")
    first = capsys.readouterr().out
    assert "username: admin" in first
    password = first.split("password: ")[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)

    call_command("ensure_admin")
    assert capsys.readouterr().out == ""
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


def test_it_takes_the_password_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_ADMIN_USERNAME", "root")
    monkeypatch.setenv("PLAYGROUND_ADMIN_PASSWORD", "from-the-env-123")
    call_command("ensure_admin")
    assert get_user_model().objects.get(username="root").check_password("from-the-env-123")
