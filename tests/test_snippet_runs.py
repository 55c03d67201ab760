"""Snippets run where their subject runs, under checks that are content, and carry their last run as content.

Uses the second knowledge base (tests/fixtures/databases: SQLite, DuckDB, PostgreSQL, MySQL) and small
programs made here; never ../shared or the network. The PostgreSQL runner is exercised against the
test database's own server when the suite runs on PostgreSQL.
"""

import dataclasses
import os
import sqlite3
from html import unescape

import duckdb
import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from kb.content.loader import load_content
from kb.evidence.run_records import stale_reasons
from kb.evidence.snippet_runners import Outcome, Piece, Program, plan_runs, run
from kb.knowledge import models as m
from kb.knowledge.signals import content_changed
from tests.test_evidence import DATABASES_KB
from tests.test_pages import text_of

FAILING_PYTHON = "import flask\n\nraise RuntimeError('written to fail, with ' + flask.__name__)\n"
DUCKDB_ONLY = (
    "CREATE OR REPLACE TABLE stock (item VARCHAR PRIMARY KEY, quantity INTEGER NOT NULL);\n"
    "INSERT INTO stock VALUES ('bolt', 5);\n"
    "FROM stock SELECT quantity;\n"
)


def snippet(task, subject):
    return m.Snippet.objects.get(task__slug=task, subject__slug=subject)


# The runners -----------------------------------------------------------------------------------------


def test_runner_passes_sql_with_its_check_and_reports_a_failing_program_plainly():
    check = "assert connection.execute('SELECT x FROM t').fetchall() == [(1,)]"
    passed = run(Program("t", "sqlite", "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);", check=check))
    assert passed.passed and passed.runner == "sqlite" and passed.versions == [["SQLite", sqlite3.sqlite_version]]
    wrong = run(Program("t", "sqlite", "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (2);", check=check))
    assert wrong.outcome == "failed" and "AssertionError" in wrong.error
    failed = run(Program("t", "sqlite", "SELECT * FROM no_such_table;"))
    assert failed.outcome == "failed" and "no such table: no_such_table" in failed.error
    crashed = run(Program("t", "python", FAILING_PYTHON, subject="flask"))
    assert crashed.outcome == "failed" and "RuntimeError: written to fail, with flask" in crashed.error
    assert dict(crashed.versions)["Flask"] == "3.1.3" and crashed.versions[0][0] == "Flask"
    assert crashed.versions[-1][0] == "Python"
    assert run(Program("t", "cobol", "DISPLAY 'HI'.")).outcome == "not-run"


def test_a_python_program_runs_under_its_subjects_driver_and_its_own_check():
    code = "def greet(name):\n    return f'Hello, {name}!'\n"
    driver = "import app\n\ngreeter = app.greet"
    good = run(Program("t", "python", code, driver=driver, check="assert greeter('Ada') == 'Hello, Ada!'"))
    assert good.passed, good.error
    bad = run(Program("t", "python", code, driver=driver, check="assert greeter('Ada') == 'Hi, Ada!'"))
    assert bad.outcome == "failed" and "AssertionError" in bad.error


def test_a_file_of_a_program_is_written_beside_it_and_shares_its_run():
    pieces = [
        Piece("t", "s", "python", "from pathlib import Path\n\nTEXT = Path('templates/hi.txt').read_text()\n"),
        Piece("t", "s", "text", "hi", path="templates/hi.txt"),
        Piece("t", "s", "text", "no program", path="x.txt", runnable=False),
        Piece("t", "other", "python", "print('no runner')"),
    ]
    plans = {plan.piece.label: plan for plan in plan_runs(pieces, {("s", "python"): ("python", "import app")})}
    assert plans["t/s/text"].file_of == "t/s/python" and plans["t/s/text"].program == plans["t/s/python"].program
    assert plans["t/other/python"].not_run == "the subject names no runner for python"
    program = plans["t/s/python"].program
    assert run(dataclasses.replace(program, check="assert app.TEXT == 'hi\\n'")).passed


def test_a_file_outside_the_programs_folder_is_refused(tmp_path):
    outside = tmp_path / "outside.txt"
    program = Program("t", "python", "x = 1", files=(("../" * 12 + str(outside).lstrip("/"), "no"),))
    outcome = run(program)
    assert outcome.outcome == "failed" and "not a path inside" in outcome.error and not outside.exists()
    snippet = m.Snippet(path="../escape.html")
    with pytest.raises(ValidationError):
        snippet.clean_fields(exclude=[f.name for f in m.Snippet._meta.fields if f.name != "path"])


def test_the_fingerprint_covers_everything_that_runs():
    base = Program("t", "python", "x = 1", driver="import app", check="assert app.x == 1", files=(("a", "b"),))
    changed = [
        Program("t", "python", "x = 2", driver="import app", check="assert app.x == 1", files=(("a", "b"),)),
        Program("t", "python", "x = 1", driver="import app as a", check="assert app.x == 1", files=(("a", "b"),)),
        Program("t", "python", "x = 1", driver="import app", check="assert app.x", files=(("a", "b"),)),
        Program("t", "python", "x = 1", driver="import app", check="assert app.x == 1", files=(("a", "c"),)),
        Program("t", "sqlite", "x = 1", driver="import app", check="assert app.x == 1", files=(("a", "b"),)),
    ]
    assert len({base.fingerprint, *(p.fingerprint for p in changed)}) == 6


# Each snippet runs where its subject runs (the held-out DuckDB snippet) ---------------------------------


def test_a_duckdb_snippet_runs_on_duckdb_and_is_never_reported_as_run_on_sqlite(db, capsys):
    assert run(Program("t", "sqlite", DUCKDB_ONLY)).outcome == "failed", "the snippet is DuckDB's own SQL"
    load_content(DATABASES_KB / "content")
    call_command("verify_snippets", "--record", "--task", "upsert")
    recorded = snippet("upsert", "duckdb")
    assert recorded.run_outcome == "passed" and recorded.run_runner == "duckdb"
    assert recorded.run_versions == [["DuckDB", duckdb.__version__]]
    assert "SQLite" not in recorded.run_versions_text
    # Were DuckDB's snippets sent to SQLite, the run fails and the record no longer matches.
    m.SubjectRunner.objects.filter(subject__slug="duckdb").update(runner="sqlite")
    with pytest.raises(CommandError, match="1 failed"):
        call_command("verify_snippets", "--task", "upsert")
    err = capsys.readouterr().err
    assert "FAILED upsert/duckdb/sql (sqlite)" in err
    assert "RECORD NO LONGER MATCHES upsert/duckdb/sql" in err and "runner 'duckdb', the run 'sqlite'" in err


@override_settings(KB_SNIPPET_POSTGRES_URL="")
def test_a_postgresql_snippet_without_a_server_is_not_run_here_and_keeps_its_record(db, capsys):
    load_content(DATABASES_KB / "content")
    before = snippet("partial-index", "postgresql")
    assert before.run_outcome == "passed" and before.run_versions[0][0] == "PostgreSQL"
    call_command("verify_snippets", "--task", "partial-index", "--record")
    after = snippet("partial-index", "postgresql")
    assert (after.ran, after.run_outcome, after.run_versions) == (before.ran, "passed", before.run_versions)
    outcome = run(Program("t", "postgresql", "SELECT 1;"))
    assert outcome.outcome == "not-run" and "KB_SNIPPET_POSTGRES_URL" in outcome.error


def postgres_url():
    """The suite's own PostgreSQL database when it runs on one, else the machine's server (KB_TEST_POSTGRES_URL)."""
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        return f"postgresql://{db['USER']}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    return os.environ.get("KB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def test_a_postgresql_snippet_runs_on_the_configured_server_and_leaves_nothing_behind(db):
    url = postgres_url()
    with override_settings(KB_SNIPPET_POSTGRES_URL=url):
        code = (
            "CREATE TABLE snippet_probe (x serial PRIMARY KEY, tags text[]); INSERT INTO snippet_probe DEFAULT VALUES;"
        )
        outcome = run(
            Program(
                "t",
                "postgresql",
                code,
                check="assert connection.execute('SELECT count(*) FROM snippet_probe').fetchone() == (1,)",
            )
        )
    assert outcome.passed, outcome.error
    assert outcome.versions[0][0] == "PostgreSQL" and outcome.runner == "postgresql"
    with psycopg.connect(url) as server:
        assert server.execute("SELECT to_regclass('snippet_probe')").fetchone() == (None,)


# Recorded runs: content, checked afresh -----------------------------------------------------------------


def test_verify_snippets_fails_on_a_failure_and_records_it_with_versions(db, capsys):
    load_content(DATABASES_KB / "content")
    task = m.Task.objects.get(slug="upsert")
    flask = m.Subject.objects.create(slug="flask", name="Flask", kind=m.SubjectKind.objects.first())
    m.SubjectRunner.objects.create(subject=flask, language="python", runner="python")
    m.Snippet.objects.create(task=task, subject=flask, language="python", code=FAILING_PYTHON)
    with pytest.raises(CommandError, match="6 runnable snippets: 3 passed, 1 failed, 2 not run here, runs recorded"):
        call_command("verify_snippets", "--record")
    failed = snippet("upsert", "flask")
    assert failed.run_outcome == "failed" and dict(failed.run_versions)["Flask"] == "3.1.3"
    assert "RuntimeError: written to fail" in failed.run_error
    assert snippet("upsert", "mysql").run_outcome == "not-run"
    assert "FAILED upsert/flask/python (python)" in capsys.readouterr().err


def test_a_record_that_no_longer_matches_fails_until_recorded_and_exported(db, capsys, tmp_path):
    load_content(DATABASES_KB / "content")
    call_command("verify_snippets", "--task", "upsert")  # the records in the files match
    m.Snippet.objects.filter(task__slug="upsert", subject__slug="sqlite").update(
        code="CREATE TABLE stock (item TEXT PRIMARY KEY, quantity INTEGER NOT NULL);\n"
        "INSERT INTO stock VALUES ('bolt', 8);"
    )
    m.Snippet.objects.filter(task__slug="upsert", subject__slug="duckdb").update(run_versions=[["DuckDB", "0.9.0"]])
    with pytest.raises(CommandError, match="2 with a record that no longer matches"):
        call_command("verify_snippets", "--task", "upsert")
    err = capsys.readouterr().err
    assert "upsert/sqlite/sql: what runs (code, files, driver or check) changed" in err
    assert "DuckDB: recorded 0.9.0, now" in err
    call_command("verify_snippets", "--task", "upsert", "--record")
    call_command("verify_snippets", "--task", "upsert")
    call_command("export_content", str(tmp_path), verbosity=0)
    exported = (tmp_path / "snippets" / "upsert.yaml").read_text(encoding="utf-8")
    assert "runner: duckdb" in exported and "DuckDB: 0.9.0" not in exported


def test_platform_versions_match_up_to_their_last_part(db):
    load_content(DATABASES_KB / "content")
    recorded = snippet("upsert", "sqlite")
    fingerprint = recorded.run_fingerprint
    major, minor, *_ = sqlite3.sqlite_version.split(".")
    same_minor = Outcome("passed", "sqlite", [["SQLite", f"{major}.{minor}.999"]])
    other_minor = Outcome("passed", "sqlite", [["SQLite", f"{major}.{int(minor) + 1}.0"]])
    recorded.run_versions = [["SQLite", f"{major}.{minor}.0"]]
    assert stale_reasons(recorded, same_minor, fingerprint) == []
    assert stale_reasons(recorded, other_minor, fingerprint) != []


def test_a_recorded_runner_name_fits_the_record(db):
    load_content(DATABASES_KB / "content")
    recorded = snippet("upsert", "sqlite")
    recorded.run_runner = "python (as templates/a-long-template-name.html of the Framework With A Long Name program)"
    recorded.full_clean()
    recorded.save()
    assert snippet("upsert", "sqlite").run_runner == recorded.run_runner


# What readers see ----------------------------------------------------------------------------------------


def test_task_page_shows_each_recorded_run_its_engine_and_its_check(client, db):
    load_content(DATABASES_KB / "content")
    html = unescape(text_of(client.get(reverse("kb:task", args=["upsert"]))))
    assert "Ran without error with SQLite 3.40.1 on 3 December 2026." in html
    assert f"Ran without error with DuckDB {duckdb.__version__} on 3 December 2026." in html
    assert f"Ran on: duckdb · DuckDB {duckdb.__version__}" in html
    assert "Checked: The bolt's quantity is 8 after the second insert." in html
    assert "Not run here: the subject names no runner for mysql." in html
    m.Snippet.objects.filter(task__slug="upsert", subject__slug="sqlite").update(
        run_outcome="failed", run_error="RuntimeError: written to fail"
    )
    m.Snippet.objects.filter(task__slug="upsert", subject__slug="duckdb").update(ran=None, run_outcome="")
    content_changed()  # as verify_snippets --record does: the cached pages go
    html = text_of(client.get(reverse("kb:task", args=["upsert"])))
    assert "Failed when run with SQLite 3.40.1 on 3 December 2026." in html and "written to fail" in html
    assert "Not run yet." in html
    index = text_of(client.get(reverse("kb:snippets")))
    assert "ran without error on 3 December 2026" in index and "not run here" in index


def test_runners_and_checks_are_edited_in_the_admin_and_the_recorded_run_is_not(admin_client, db):
    load_content(DATABASES_KB / "content")
    duckdb_subject = m.Subject.objects.get(slug="duckdb")
    response = admin_client.get(reverse("admin:kb_subject_change", args=[duckdb_subject.pk]))
    assert response.status_code == 200 and b'name="runners-0-runner"' in response.content
    upsert = snippet("upsert", "duckdb")
    response = admin_client.get(reverse("admin:kb_snippet_change", args=[upsert.pk]))
    assert b'name="check_code"' in response.content and b'name="check_summary"' in response.content
    assert b'name="run_outcome"' not in response.content, "the recorded run is verify_snippets', not typed in"


def test_a_check_runs_only_in_the_snippets_subprocess_never_in_the_web_process(admin_client, client, db, tmp_path):
    load_content(DATABASES_KB / "content")
    marker = tmp_path / "check-ran"
    check = f"import pathlib, os\npathlib.Path({str(marker)!r}).write_text(str(os.getpid()))"
    m.Snippet.objects.filter(task__slug="upsert", subject__slug="duckdb").update(check_code=check)
    content_changed()
    upsert = snippet("upsert", "duckdb")
    assert client.get(reverse("kb:task", args=["upsert"])).status_code == 200
    assert admin_client.get(reverse("admin:kb_snippet_change", args=[upsert.pk])).status_code == 200
    assert not marker.exists(), "pages never run a check"
    with pytest.raises(CommandError):  # what runs changed: the record no longer matches
        call_command("verify_snippets", "--task", "upsert")
    assert marker.exists() and int(marker.read_text()) != os.getpid(), "the check ran in a subprocess of its own"
