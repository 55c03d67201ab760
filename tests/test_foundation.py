"""Project-wide safety nets: migrations, settings, the admin for a superuser."""

import io

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse

from kb import settings as kb_settings


@pytest.mark.django_db
def test_no_missing_migrations():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exit_:
        pytest.fail(f"Missing migrations:\n{out.getvalue()} (exit {exit_.code})")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("Yes", True), ("on", True), ("0", False), ("false", False), ("", False)],
)
def test_env_bool_parses_properly(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert kb_settings.env_bool("SOME_FLAG") is expected


def test_env_bool_rejects_garbage(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "False-ish")
    with pytest.raises(ImproperlyConfigured):
        kb_settings.env_bool("SOME_FLAG")


def test_env_bool_default_when_unset(monkeypatch):
    monkeypatch.delenv("SOME_FLAG", raising=False)
    assert kb_settings.env_bool("SOME_FLAG") is False
    assert kb_settings.env_bool("SOME_FLAG", default=True) is True


def test_env_list_splits_commas(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example , b.example,,")
    assert kb_settings.env_list("HOSTS") == ["a.example", "b.example"]


def test_secret_key_required_in_production(monkeypatch):
    import importlib

    monkeypatch.delenv("DJANGO_DEBUG", raising=False)
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY"):
        importlib.reload(kb_settings)
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 50)
    importlib.reload(kb_settings)
    assert kb_settings.DEBUG is False


KB_MODELS = [model for model in apps.get_app_config("kb").get_models() if model in admin.site._registry]


# Site state, not content: the page-cache generation and the search index are never edited by hand.
# Captures and snippet runs are shown and attached on their source's and snippet's pages, not on their own.
INTERNAL_MODELS = {
    "ContentVersion", "SearchDocument", "Capture", "SyncDirectory", "SyncRecord",
    "CellVersion", "SubjectColumn", "VersionStamp",  # the read model: derived, written only by kb.comparison.read_model
}  # fmt: skip


def test_every_kb_model_is_in_the_admin():
    registered = {model for model in admin.site._registry if model._meta.app_label == "kb"}
    concrete = {
        m
        for m in apps.get_app_config("kb").get_models()
        if not m.__name__.startswith("Historical") and m.__name__ not in INTERNAL_MODELS
    }
    assert concrete == registered


@pytest.mark.django_db
@pytest.mark.parametrize("model", KB_MODELS, ids=lambda model: model.__name__)
def test_admin_opens_for_superuser(admin_client, sample_kb, model):
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    assert admin_client.get(reverse(f"{name}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"{name}_add")).status_code == 200
    obj = model.objects.first()
    assert obj is not None, f"the sample content has no {model.__name__}"
    assert admin_client.get(reverse(f"{name}_change", args=[obj.pk])).status_code == 200
    assert admin_client.get(reverse(f"{name}_history", args=[obj.pk])).status_code == 200
