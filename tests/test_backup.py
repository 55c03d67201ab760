"""Backup and restore: dump the database, restore it into a fresh one, compare every record.

These run on whichever engine the suite uses (SQLite by default, PostgreSQL with
DATABASE_URL). The backups are taken by another process on PostgreSQL (pg_dump), which
sees only committed rows, hence ``transaction=True``; ``serialized_rollback`` puts back
what the migrations created (the Editors group, permissions) for the tests after these.
"""

import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from kb.comparison.models import CellVersion, SubjectColumn, VersionStamp
from kb.content.exporter import export_content
from kb.content.loader import load_content
from kb.knowledge import models as m
from kb.knowledge.signals import CONTENT_MODELS
from kb.ops import backup

ROOT = Path(__file__).resolve().parent.parent
BACKUP_TEST = pytest.mark.django_db(transaction=True, serialized_rollback=True)
PASSWORD = "a-long-editor-passphrase-42"


def expected_vendor():
    url = os.environ.get("DATABASE_URL", "")
    return "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"


# Reading every record of every table ---------------------------------------------------


def _rows(cursor, sql):
    cursor.execute(sql)
    return cursor.fetchall()


def _sorted(rows):
    return sorted((tuple(row) for row in rows), key=repr)


def sqlite_dump(cursor):
    """Schema and every row of every table of an SQLite database (FTS shadow tables included)."""
    schema = _rows(cursor, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
    tables = [name for (name,) in _rows(cursor, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    data = {}
    for table in tables:
        cursor.execute(f'SELECT * FROM "{table}"')
        data[table] = ([column[0] for column in cursor.description], _sorted(cursor.fetchall()))
    return {"schema": schema, "tables": tables, "data": data}


def _casts_and_parentheses_removed(definition):
    """PostgreSQL prints a restored CHECK (x IN (...)) with its casts moved: the same constraint, other text."""
    return re.sub(r"::(character varying|text)(\[\])?|[()\s]", "", definition)


def postgresql_dump(cursor):
    """Schema, every row of every table and every sequence of the public schema of a PostgreSQL database."""
    tables = [
        name
        for (name,) in _rows(
            cursor,
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
        )
    ]
    schema = {
        "columns": _rows(
            cursor,
            "SELECT table_name, column_name, data_type, is_nullable, column_default, is_generated "
            "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
        ),
        "indexes": _rows(
            cursor, "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2"
        ),
        "constraints": [
            (table, name, _casts_and_parentheses_removed(definition))
            for table, name, definition in _rows(
                cursor,
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
            )
        ],
        "sequences": _rows(
            cursor, "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"
        ),
    }
    data = {}
    for table in tables:
        cursor.execute(f'SELECT * FROM "{table}"')
        data[table] = ([column.name for column in cursor.description], _sorted(cursor.fetchall()))
    return {"schema": schema, "tables": tables, "data": data}


def dump_source():
    """The test database as the backup saw it, read like the restored one: raw values, no Django converters."""
    return FreshDatabase(connection.settings_dict, url="").dump()


@dataclass
class FreshDatabase:
    settings_dict: dict
    url: str

    def dump(self):
        if backup.engine_of(self.settings_dict) == backup.SQLITE:
            name = str(self.settings_dict["NAME"])  # the in-memory test database is a shared-cache URI
            with closing(sqlite3.connect(name, uri=name.startswith("file:"))) as raw:
                return sqlite_dump(raw.cursor())
        with backup.pg_connect(self.settings_dict) as raw, raw.cursor() as cursor:
            return postgresql_dump(cursor)


@pytest.fixture
def fresh_database(tmp_path):
    """A new, empty database on the suite's engine: a temporary file, or a uniquely named PostgreSQL database."""
    assert connection.vendor == expected_vendor()
    source = connection.settings_dict
    if connection.vendor == "sqlite":
        path = tmp_path / "restored.sqlite3"
        yield FreshDatabase({"ENGINE": source["ENGINE"], "NAME": str(path), "OPTIONS": {}}, f"sqlite:///{path}")
        return
    name = f"kb_restore_{uuid.uuid4().hex[:12]}"
    admin = {**source, "NAME": "postgres"}
    with backup.pg_connect(admin) as raw:
        raw.execute(f'CREATE DATABASE "{name}"')
    target = {**source, "NAME": name}
    auth = source["USER"] + (f":{source['PASSWORD']}" if source.get("PASSWORD") else "")
    url = f"postgres://{auth}@{source.get('HOST') or 'localhost'}:{source.get('PORT') or 5432}/{name}"
    try:
        yield FreshDatabase(target, url)
    finally:
        with backup.pg_connect(admin) as raw:
            raw.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def kb_data(fixture_content_dir, client, monkeypatch):
    """The sample knowledge base, users, an editor's admin edit (history, admin log, session), odd values."""
    # force: these tests run last (transaction=True), after whatever earlier modules committed.
    load_content(fixture_content_dir, force=True)
    monkeypatch.setenv("KB_EDITOR_PASSWORD", PASSWORD)
    call_command("create_editor", "edith", verbosity=0)
    User.objects.create_superuser("root", "root@example.com", PASSWORD)
    editor = User.objects.get(username="edith")
    assert Group.objects.get(name="Editors") in editor.groups.all()

    client.force_login(editor)
    dimension = m.Dimension.objects.get(slug="startup")
    response = client.post(
        reverse("admin:kb_dimension_change", args=[dimension.pk]),
        {
            "name": "Start-up time",
            "slug": "startup",
            "group": dimension.group_id,
            "description": "How long it takes to start — «quoted», 'single', \"double\", tab\there.\n\nSecond line.",
            "order": dimension.order,
        },
    )
    assert response.status_code == 302
    assert dimension.history.latest().history_user == editor

    subject = m.Subject.objects.get(slug="alpha")
    subject.summary = "Ünïcödé 🐍 and a NUL-free but long text. " * 200
    subject.first_release = None
    subject._history_user = editor
    subject.save()
    m.SubjectAlias.objects.filter(subject=subject).delete()
    m.SubjectAlias.objects.create(slug="alpha-old", subject=subject)
    return editor


def assert_same_databases(source, restored, ignore_tables=()):
    assert restored["tables"] == source["tables"]
    assert restored["schema"] == source["schema"]
    for table in source["tables"]:
        if table in ignore_tables:
            continue
        assert restored["data"][table] == source["data"][table], f"table {table} differs after the restore"


# Backup and restore -------------------------------------------------------------------


@BACKUP_TEST
def test_restore_reproduces_every_record_of_every_table(kb_data, fresh_database, tmp_path):
    assert connection.vendor == expected_vendor()
    source = dump_source()
    # The data is really there: content, history by a person, users, the Editors group.
    assert len(source["data"]["kb_claim"][1]) > 0
    assert m.Dimension.history.filter(history_user=kb_data).exists()
    assert len(source["data"]["auth_user"][1]) >= 2
    assert len(source["data"]["django_admin_log"][1]) >= 1
    assert len(source["data"]["auth_group_permissions"][1]) > 0

    file = tmp_path / "kb.ops.backup"
    made = backup.backup_database(file)
    assert made.engine == connection.vendor
    assert backup.file_format(file) == connection.vendor
    assert file.stat().st_mode & 0o077 == 0  # not readable by others

    assert backup.list_tables(fresh_database.settings_dict) == []
    restored = backup.restore_database(file, fresh_database.settings_dict, invalidate_pages=False)
    assert restored.generation is None

    after = fresh_database.dump()
    assert_same_databases(source, after)
    # The source is untouched by its backup.
    assert dump_source() == source


@BACKUP_TEST
def test_commands_restore_refuse_a_non_empty_target_and_move_the_generation_on(
    kb_data, fresh_database, tmp_path, capsys
):
    file = tmp_path / "kb.ops.backup"
    call_command("backup_db", str(file))
    assert "backup written to" in capsys.readouterr().out
    source = dump_source()
    generation_before = m.ContentVersion.objects.current()[0]
    assert generation_before > 0

    call_command("restore_db", str(file), "--database-url", fresh_database.url)
    out = capsys.readouterr().out
    assert "restored into" in out and "Content generation set to" in out

    after = fresh_database.dump()
    assert_same_databases(source, after, ignore_tables={"kb_contentversion"})
    columns, rows = after["data"]["kb_contentversion"]
    [row] = rows
    generation = row[columns.index("generation")]
    # Past anything bumping could have reached, so no page cached before the restore is served.
    assert generation > generation_before
    assert generation >= (time.time_ns() // 1000) - 60_000_000

    # Restoring again into the same (now full) database is refused, and changes nothing ...
    with pytest.raises(CommandError, match="is not empty"):
        call_command("restore_db", str(file), "--database-url", fresh_database.url)
    assert fresh_database.dump() == after
    # ... unless forced; a later restore moves the generation on again.
    call_command("restore_db", str(file), "--database-url", fresh_database.url, "--force")
    again = fresh_database.dump()
    assert_same_databases(source, again, ignore_tables={"kb_contentversion"})
    [row] = again["data"]["kb_contentversion"][1]
    assert row[columns.index("generation")] > generation


def test_restore_refuses_another_engines_backup(tmp_path):
    pg_dump_file = tmp_path / "pg.backup"
    pg_dump_file.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 64)
    sqlite_file = tmp_path / "sqlite.backup"
    with closing(sqlite3.connect(sqlite_file)) as raw:
        raw.execute("CREATE TABLE t (x)")

    with pytest.raises(CommandError, match="is a PostgreSQL backup, but the target is SQLite"):
        call_command("restore_db", str(pg_dump_file), "--database-url", f"sqlite:///{tmp_path / 'new.sqlite3'}")
    with pytest.raises(CommandError, match="is an SQLite backup, but the target is PostgreSQL"):
        call_command("restore_db", str(sqlite_file), "--database-url", "postgres://nobody@127.0.0.1:1/none")
    assert not (tmp_path / "new.sqlite3").exists()


def test_restore_refuses_missing_and_unknown_files(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("restore_db", str(tmp_path / "missing.backup"), "--database-url", "sqlite:///x.sqlite3")
    text = tmp_path / "notes.txt"
    text.write_text("not a backup")
    with pytest.raises(CommandError, match="neither a PostgreSQL custom-format dump nor an SQLite database"):
        call_command("restore_db", str(text), "--database-url", f"sqlite:///{tmp_path / 'new.sqlite3'}")
    with pytest.raises(CommandError, match="Unsupported database engine"):
        call_command("restore_db", str(text), "--database-url", "mysql://u@localhost/kb")


def test_backup_into_a_missing_folder_is_an_error(tmp_path, db):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("backup_db", str(tmp_path / "no" / "such" / "folder" / "kb.ops.backup"))


def manage(*args):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_command_line_errors_are_messages_not_tracebacks(tmp_path):
    backup_file = tmp_path / "kb.ops.backup"
    with closing(sqlite3.connect(backup_file)) as raw:
        raw.execute("CREATE TABLE t (x)")
    full = tmp_path / "full.sqlite3"
    with closing(sqlite3.connect(full)) as raw:
        raw.execute("CREATE TABLE existing (x)")

    cases = [
        (["restore_db", str(tmp_path / "missing.backup")], "does not exist"),
        (["restore_db", str(backup_file), "--database-url", f"sqlite:///{full}"], "is not empty"),
        (["backup_db", str(tmp_path / "no" / "kb.ops.backup")], "does not exist"),
    ]
    for args, message in cases:
        completed = manage(*args)
        assert completed.returncode != 0, args
        assert message in completed.stderr, (args, completed.stderr)
        assert "Traceback" not in completed.stderr, completed.stderr
    # The refused restore left the target alone.
    with closing(sqlite3.connect(full)) as raw:
        assert raw.execute("SELECT name FROM sqlite_master").fetchall() == [("existing",)]


def test_sqlite_restore_via_the_command_line(tmp_path):
    """The real command, in its own process, on files: backup of a live file, restore into a new one."""
    source = tmp_path / "source.sqlite3"
    with closing(sqlite3.connect(source)) as raw, raw:
        raw.execute("CREATE TABLE kb_contentversion (id integer PRIMARY KEY, generation bigint, changed datetime)")
        raw.execute("INSERT INTO kb_contentversion VALUES (1, 7, NULL)")
        raw.execute("CREATE TABLE notes (id integer PRIMARY KEY, text text)")
        raw.executemany("INSERT INTO notes (text) VALUES (?)", [("é",), (None,), ("x" * 10_000,)])
    env_url = f"sqlite:///{source}"
    completed = subprocess.run(
        [sys.executable, "manage.py", "backup_db", str(tmp_path / "kb.ops.backup")],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": env_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    target = tmp_path / "target.sqlite3"
    completed = manage("restore_db", str(tmp_path / "kb.ops.backup"), "--database-url", f"sqlite:///{target}")
    assert completed.returncode == 0, completed.stderr
    with closing(sqlite3.connect(source)) as a, closing(sqlite3.connect(target)) as b:
        assert (
            a.execute("SELECT * FROM notes ORDER BY id").fetchall()
            == b.execute("SELECT * FROM notes ORDER BY id").fetchall()
        )
        assert b.execute("SELECT generation FROM kb_contentversion").fetchone()[0] > 7


def test_postgresql_password_travels_in_the_environment_only():
    settings_dict = {
        "NAME": "kb",
        "USER": "kb_user",
        "PASSWORD": "s3cret-pass",
        "HOST": "db.example",
        "PORT": "5433",
        "OPTIONS": {"sslmode": "require"},
    }
    argv, env = backup.pg_command("pg_dump", settings_dict, ["--format=custom"])
    assert "s3cret-pass" not in " ".join(argv)
    assert env["PGPASSWORD"] == "s3cret-pass"
    assert env["PGSSLMODE"] == "require"
    assert argv[-1] == "kb" and "--no-password" in argv
    assert argv[argv.index("-U") : argv.index("-U") + 2] == ["-U", "kb_user"]


# export_content then load_content reproduces the knowledge base ------------------------


def _content_models():
    """The models content files describe; any other kb model must be named here as not content."""
    # Backups carry them, files do not.
    not_content = {
        m.ContentVersion, m.SearchDocument, m.Capture, m.SyncDirectory, m.SyncRecord,
        CellVersion, SubjectColumn, VersionStamp,  # the read model: derived from the content, versioned
    }  # fmt: skip
    models = [
        model
        for model in apps.get_app_config("kb").get_models()
        if not model.__name__.startswith("Historical") and model not in not_content
    ]
    assert set(models) == set(CONTENT_MODELS), "a new kb model: say whether content files carry it"
    return models


class Records:
    """Every content record, with foreign keys replaced by the referenced record: no ids, no timestamps."""

    IGNORED = {"created", "updated"}

    def __init__(self, models):
        self.objects = {model: {obj.pk: obj for obj in model._base_manager.all()} for model in models}
        self.memo = {}

    def record(self, model, pk):
        if pk is None:
            return None
        if (model, pk) not in self.memo:
            obj = self.objects[model][pk]
            values = []
            for field in model._meta.concrete_fields:
                if field.primary_key or field.name in self.IGNORED:
                    continue
                if field.is_relation:
                    values.append((field.name, self.record(field.related_model, getattr(obj, field.attname))))
                else:
                    values.append((field.name, field.value_from_object(obj)))
            self.memo[model, pk] = tuple(values)
        return self.memo[model, pk]

    def all(self):
        return {
            model.__name__: sorted((self.record(model, pk) for pk in objects), key=repr)
            for model, objects in self.objects.items()
        }


def test_export_then_load_into_an_empty_database_reproduces_the_real_knowledge_base(db, tmp_path):
    models = _content_models()
    empty = tmp_path / "nothing"
    empty.mkdir()
    load_content(empty, reset=True)  # whatever another module's fixture may have left
    assert all(not model.objects.exists() for model in models)
    load_content(settings.KB_CONTENT_DIR)
    before = Records(models).all()
    # The real content has records of every kind but aliases (no subject has been renamed yet).
    assert {name for name, records in before.items() if not records} <= {"SubjectAlias"}

    exported = tmp_path / "exported"
    export_content(exported)

    # Back to an empty database: no content, never synced (a folder never synced deletes nothing without --reset).
    load_content(empty, reset=True)
    m.SyncDirectory.objects.all().delete()
    assert all(not model.objects.exists() for model in models)

    load_content(exported)
    after = Records(models).all()
    for model in models:
        assert after[model.__name__] == before[model.__name__], f"{model.__name__} records differ"
