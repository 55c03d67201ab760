"""Loading content never silently undoes editors' work, never interleaves, and dies cleanly."""

import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from kb.content.exporter import export_content
from kb.knowledge import models as m

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


def load(directory, *args, stderr=None):
    out = StringIO()
    call_command("load_content", str(directory), *args, stdout=out, stderr=stderr or StringIO())
    return out.getvalue()


@pytest.fixture
def content_copy(tmp_path, fixture_content_dir):
    import shutil

    target = tmp_path / "content"
    shutil.copytree(fixture_content_dir, target)
    load(target)
    return target


def edit_in_admin(claim_key="widgets", cell="Edited by an editor"):
    claim = m.Claim.objects.get(subject__slug="alpha", key=claim_key)
    claim.cell = cell
    claim._change_reason = "admin"
    claim.save()
    return claim


def test_load_refuses_to_overwrite_an_admin_edit_the_files_changed_too(content_copy):
    edit_in_admin()
    claims = content_copy / "claims" / "alpha.yaml"
    claims.write_text(claims.read_text().replace("Widget engine built in", "Changed in the files"))
    with pytest.raises(CommandError) as caught:
        load(content_copy)
    message = str(caught.value)
    assert "claim 'alpha/widgets': changed in the admin and in the files" in message
    assert "cell: database 'Edited by an editor', files 'Changed in the files'" in message
    assert "--force" in message and "export_content" in message
    assert m.Claim.objects.get(subject__slug="alpha", key="widgets").cell == "Edited by an editor"


def test_load_keeps_a_record_added_in_the_admin(content_copy):
    alpha = m.Subject.objects.get(slug="alpha")
    added = m.Claim.objects.create(subject=alpha, dimension=m.Dimension.objects.first(), key="new", cell="New")
    output = load(content_copy)
    assert "claim 'alpha/new': added in the admin" in output
    assert m.Claim.objects.filter(pk=added.pk).exists()


def test_a_record_deleted_in_the_admin_stays_deleted(content_copy):
    m.Claim.objects.get(subject__slug="beta", key="widgets").delete()
    output = load(content_copy)
    assert "claim 'beta/widgets': deleted in the admin (stays deleted)" in output
    assert not m.Claim.objects.filter(subject__slug="beta", key="widgets").exists()


def test_force_takes_the_files_version_of_a_conflict_and_says_so(content_copy):
    edit_in_admin()
    claims = content_copy / "claims" / "alpha.yaml"
    claims.write_text(claims.read_text().replace("Widget engine built in", "Changed in the files"))
    err = StringIO()
    output = load(content_copy, "--force", stderr=err)
    assert "claims: 0 created, 1 updated" in output
    assert "Discarded the admin's version of 1 records (--force)" in err.getvalue()
    assert "cell: database 'Edited by an editor', files 'Changed in the files'" in err.getvalue()
    assert m.Claim.objects.get(subject__slug="alpha", key="widgets").cell == "Changed in the files"


def test_reset_discards_every_admin_change_and_lists_it(content_copy):
    edit_in_admin()
    err = StringIO()
    load(content_copy, "--reset", stderr=err)
    assert "claim 'alpha/widgets': changed in the admin" in err.getvalue()
    assert m.Claim.objects.get(subject__slug="alpha", key="widgets").cell == "Widget engine built in"


def test_export_then_load_keeps_the_admin_edit(content_copy):
    edit_in_admin()
    export_content(content_copy)
    assert "Nothing changed." in load(content_copy)
    assert m.Claim.objects.get(subject__slug="alpha", key="widgets").cell == "Edited by an editor"


def test_admin_edit_that_the_files_already_agree_with_is_no_conflict(content_copy):
    edit_in_admin(cell="Widget engine built in")  # saved, but equal to the files
    assert "Nothing changed." in load(content_copy)


def test_loads_are_serialised(content_copy):
    """A second loader cannot start writing while the first holds the load lock."""
    from django.db import transaction

    from kb.content.loader import LOCK_KEY, _lock_loads

    with transaction.atomic():
        _lock_loads()
        if connection.vendor == "postgresql":
            import psycopg

            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            with psycopg.connect(**params) as other:
                acquired = other.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY]).fetchone()[0]
            assert acquired is False
        else:
            assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def _database_env(tmp_path):
    """A real database another process can use: a file for SQLite, a scratch database for PostgreSQL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(DJANGO_SETTINGS_MODULE="kb.settings", DJANGO_DEBUG="1")
    if connection.vendor == "postgresql":
        import psycopg

        params = connection.get_connection_params()
        name = f"kb_kill_{os.getpid()}"
        admin = psycopg.connect(host=params.get("host"), port=params.get("port"), user=params.get("user"),
                                dbname="postgres", autocommit=True)  # fmt: skip
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
        host, port, user = params.get("host") or "127.0.0.1", params.get("port") or 5432, params.get("user")
        env["DATABASE_URL"] = f"postgres://{user}@{host}:{port}/{name}"
        return env, lambda: (admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'), admin.close())
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'kill.sqlite3'}"
    return env, lambda: None


def _manage(env, *args, **kwargs):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True, **kwargs)  # fmt: skip


def _snapshot(env):
    code = (
        "import django; django.setup(); from kb import models as m; "
        "print(sorted(m.Claim.objects.values_list('subject__slug', 'key', 'cell')), m.Excerpt.objects.count())"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def test_a_killed_load_leaves_the_database_as_it_was(tmp_path, fixture_content_dir):
    env, cleanup = _database_env(tmp_path)
    try:
        _manage(env, "migrate", "-v0")
        _manage(env, "load_content", str(fixture_content_dir))
        before = _snapshot(env)
        # A bigger knowledge base to load, so that the kill lands in the middle of writing it.
        _manage(env, "generate_synthetic", "--subjects", "12", "--dimensions", "150", "-v0")
        _manage(env, "export_content", str(tmp_path / "big"))
        _manage(env, "load_content", str(fixture_content_dir), "--reset")
        assert _snapshot(env) == before
        process = subprocess.Popen(
            [sys.executable, "manage.py", "load_content", str(tmp_path / "big"), "-v2"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        for line in process.stdout:  # wait until it is writing inside its transaction
            if line.startswith("claims:"):
                break
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        time.sleep(0.2)
        assert _snapshot(env) == before
    finally:
        cleanup()
