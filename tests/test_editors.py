"""Editor accounts: the create_editor command and throttled admin logins (django-axes)."""

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse

from kb.management.commands import create_editor

PASSWORD = "a-long-editor-passphrase-42"


@pytest.fixture
def no_password_env(monkeypatch):
    monkeypatch.delenv("KB_EDITOR_PASSWORD", raising=False)


def answers(monkeypatch, *replies):
    """Feed getpass with ``replies``, in order; fail when it asks for more."""
    replies = list(replies)
    prompts = []

    def fake_getpass(prompt=""):
        prompts.append(prompt)
        assert replies, f"getpass asked once too often ({prompt!r})"
        return replies.pop(0)

    monkeypatch.setattr(create_editor.getpass, "getpass", fake_getpass)
    return prompts


# create_editor ----------------------------------------------------------------------------------


def test_create_editor_from_environment(db, monkeypatch, capsys):
    monkeypatch.setenv("KB_EDITOR_PASSWORD", PASSWORD)
    call_command("create_editor", "edith", email="edith@example.org")
    user = User.objects.get(username="edith")
    assert user.is_staff and user.is_active and not user.is_superuser
    assert user.check_password(PASSWORD)
    assert user.email == "edith@example.org"
    assert list(user.groups.values_list("name", flat=True)) == ["Editors"]
    assert user.has_perm("kb.change_claim") and user.has_perm("kb.view_historicalclaim")
    assert not user.has_perm("auth.change_user")
    assert "Created editor edith" in capsys.readouterr().out


def test_create_editor_from_another_variable(db, monkeypatch, no_password_env):
    monkeypatch.setenv("EDITH_PASSWORD", PASSWORD)
    call_command("create_editor", "edith", password_env="EDITH_PASSWORD", interactive=False, verbosity=0)
    assert User.objects.get(username="edith").check_password(PASSWORD)


def test_create_editor_rejects_a_weak_password_from_environment(db, monkeypatch):
    monkeypatch.setenv("KB_EDITOR_PASSWORD", "123")
    with pytest.raises(CommandError, match="too short"):
        call_command("create_editor", "edith")
    assert not User.objects.filter(username="edith").exists()


def test_create_editor_rejects_a_password_like_the_username(db, monkeypatch):
    monkeypatch.setenv("KB_EDITOR_PASSWORD", "edith-the-editor")
    with pytest.raises(CommandError, match="too similar"):
        call_command("create_editor", "edith-the-editor")


def test_create_editor_asks_twice(db, monkeypatch, no_password_env, capsys):
    prompts = answers(monkeypatch, PASSWORD, PASSWORD)
    call_command("create_editor", "edith")
    assert prompts == ["Password: ", "Password (again): "]
    assert User.objects.get(username="edith").check_password(PASSWORD)


def test_create_editor_asks_again_after_a_mismatch_or_a_weak_password(db, monkeypatch, no_password_env, capsys):
    answers(monkeypatch, PASSWORD, "something else", "password", "password", PASSWORD, PASSWORD)
    call_command("create_editor", "edith")
    err = capsys.readouterr().err
    assert "The two passwords differ." in err
    assert "too common" in err
    assert User.objects.get(username="edith").check_password(PASSWORD)


def test_create_editor_gives_up_after_three_attempts(db, monkeypatch, no_password_env):
    answers(monkeypatch, "a", "b", "c", "d", "e", "f")
    with pytest.raises(CommandError, match="No acceptable password"):
        call_command("create_editor", "edith")
    assert not User.objects.filter(username="edith").exists()


def test_create_editor_without_input_needs_the_variable(db, no_password_env):
    with pytest.raises(CommandError, match="KB_EDITOR_PASSWORD"):
        call_command("create_editor", "edith", interactive=False)


def test_create_editor_updates_an_existing_account(db, monkeypatch, capsys):
    User.objects.create_user("edith", password="old-password-that-is-long", is_active=False)
    monkeypatch.setenv("KB_EDITOR_PASSWORD", PASSWORD)
    call_command("create_editor", "edith")
    call_command("create_editor", "edith")
    user = User.objects.get(username="edith")
    assert User.objects.filter(username="edith").count() == 1
    assert user.is_staff and user.is_active
    assert user.check_password(PASSWORD)
    assert user.groups.count() == 1
    assert "Updated editor edith" in capsys.readouterr().out


def test_create_editor_recreates_a_deleted_group(db, monkeypatch):
    from django.contrib.auth.models import Group

    Group.objects.filter(name="Editors").delete()
    monkeypatch.setenv("KB_EDITOR_PASSWORD", PASSWORD)
    call_command("create_editor", "edith", verbosity=0)
    user = User.objects.get(username="edith")
    assert user.has_perm("kb.delete_excerpt") and user.has_perm("kb.view_historicalexcerpt")
    assert not user.has_perm("kb.change_historicalexcerpt")
    assert not user.has_perm("kb.change_contentversion")  # site state, not content


# Throttled logins -------------------------------------------------------------------------------


@pytest.fixture
def editor(db, monkeypatch):
    monkeypatch.setenv("KB_EDITOR_PASSWORD", PASSWORD)
    call_command("create_editor", "edith", verbosity=0)
    return User.objects.get(username="edith")


def login(client, username, password, ip="10.0.0.1"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": reverse("admin:index")},
        REMOTE_ADDR=ip,
    )


def test_login_works(client, editor):
    response = login(client, "edith", PASSWORD)
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_repeated_failures_lock_the_login_out(client, editor, settings):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        response = login(client, "edith", "wrong password")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    response = login(client, "edith", "wrong password")
    assert response.status_code == 429
    content = response.content.decode()
    assert "Too many failed sign-ins" in content
    assert f"after {limit} failed attempts" in content

    # Locked out even with the right password, for the cool-off time.
    response = login(client, "edith", PASSWORD)
    assert response.status_code == 429
    assert client.get(reverse("admin:index")).status_code == 302


def test_lockout_leaves_everyone_else_alone(client, editor, admin_user, settings):
    admin_user.set_password(PASSWORD)
    admin_user.save()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "edith", "wrong password")
    assert login(client, "edith", PASSWORD).status_code == 429

    # Another account from the same address, and the same account from elsewhere, still sign in.
    assert login(client, admin_user.username, PASSWORD).status_code == 302
    client.logout()
    assert login(client, "edith", PASSWORD, ip="10.0.0.2").status_code == 302


def test_lockout_ends_after_the_cool_off(client, editor, settings):
    from datetime import timedelta

    from axes.models import AccessAttempt
    from django.utils import timezone

    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "edith", "wrong password")
    assert login(client, "edith", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert login(client, "edith", PASSWORD).status_code == 302


def test_a_success_resets_the_failures(client, editor, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, "edith", "wrong password")
    assert login(client, "edith", PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "edith", "wrong password").status_code == 200


# Behind the documented reverse proxy every request comes from the proxy's address; the proxy appends the
# address it saw to X-Forwarded-For (nginx's $proxy_add_x_forwarded_for).
PROXY = "127.0.0.1"


def behind_proxy(settings):
    """The settings DJANGO_TRUSTED_PROXY_COUNT=1 gives (kb.settings)."""
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    settings.AXES_IPWARE_PROXY_ORDER = "right-most"
    settings.AXES_IPWARE_PROXY_COUNT = 0


def login_via_proxy(client, username, password, forwarded_for):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": reverse("admin:index")},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_the_trusted_proxy_setting_selects_the_forwarded_address(monkeypatch):
    import runpy

    from django.conf import settings as django_settings

    monkeypatch.setenv("DJANGO_TRUSTED_PROXY_COUNT", "1")
    values = runpy.run_path(str(django_settings.BASE_DIR / "kb" / "settings.py"))
    assert values["AXES_IPWARE_META_PRECEDENCE_ORDER"] == ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    assert (values["AXES_IPWARE_PROXY_ORDER"], values["AXES_IPWARE_PROXY_COUNT"]) == ("right-most", 0)
    monkeypatch.delenv("DJANGO_TRUSTED_PROXY_COUNT")
    values = runpy.run_path(str(django_settings.BASE_DIR / "kb" / "settings.py"))
    assert values["AXES_IPWARE_META_PRECEDENCE_ORDER"] == ("REMOTE_ADDR",)  # not assumed: the header is ignored


def test_behind_the_proxy_an_attackers_failures_never_lock_out_another_client(client, editor, settings):
    behind_proxy(settings)
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        login_via_proxy(client, "edith", "wrong password", "203.0.113.9")
    assert login_via_proxy(client, "edith", PASSWORD, "203.0.113.9").status_code == 429  # the attacker is locked
    # Entries the attacker writes into the header themselves do not make them someone else either.
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        login_via_proxy(client, "edith", "wrong password", "198.51.100.4, 203.0.113.9")

    response = login_via_proxy(client, "edith", PASSWORD, "198.51.100.4")  # the editor, from elsewhere
    assert response.status_code == 302


def test_without_the_setting_the_forwarded_header_is_ignored(client, editor, settings):
    # Not behind a proxy: a client could write any X-Forwarded-For, so only the connection's address counts.
    for n in range(settings.AXES_FAILURE_LIMIT):
        login_via_proxy(client, "edith", "wrong password", f"203.0.113.{n}")
    assert login_via_proxy(client, "edith", PASSWORD, "198.51.100.4").status_code == 429
