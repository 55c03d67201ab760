"""Backing up and restoring the whole database with each engine's own tools.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --no-owner``; the password
travels in ``PGPASSWORD``, never on a command line. SQLite: the online backup API,
which copies a consistent snapshot while the site keeps running.

``backup_database`` works on a Django connection (the in-memory SQLite test database
included); ``restore_database`` restores into a fresh database given by its settings
or a database URL, refuses one that already holds tables unless forced, and then
moves the content generation past every value it may have had, so no page cached
before the restore is served again. The management commands ``backup_db`` and
``restore_db`` are thin wrappers; every failure is a ``BackupError`` with a message
meant for a person.
"""

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dj_database_url
from django.db import connections

from kb.knowledge.models import new_epoch

POSTGRESQL, SQLITE = "postgresql", "sqlite"
ENGINE_NAMES = {POSTGRESQL: "PostgreSQL", SQLITE: "SQLite"}
A_ENGINE = {POSTGRESQL: "a PostgreSQL", SQLITE: "an SQLite"}
# The first bytes of each kind of backup file.
PG_CUSTOM_MAGIC = b"PGDMP"
SQLITE_MAGIC = b"SQLite format 3\x00"
CONTENT_VERSION_TABLE = "kb_contentversion"
# libpq settings Django keeps in OPTIONS that psycopg.connect accepts as they are.
LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "passfile", "service", "connect_timeout")


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass
class Result:
    path: Path
    engine: str
    seconds: float
    tables: int = 0
    generation: int | None = None
    notes: list = field(default_factory=list)

    @property
    def size(self):
        return self.path.stat().st_size


# Engines and settings --------------------------------------------------------------


def engine_of(settings_dict):
    engine = settings_dict.get("ENGINE", "")
    if engine.endswith(".postgresql") or engine.endswith(".postgis"):
        return POSTGRESQL
    if engine.endswith(".sqlite3") or engine.endswith(".spatialite"):
        return SQLITE
    raise BackupError(f"Unsupported database engine {engine!r}: backup_db and restore_db know PostgreSQL and SQLite.")


def target_settings(database_url=None, using="default"):
    """The settings dict of the restore target: a database URL, or a configured alias."""
    if not database_url:
        return connections[using].settings_dict
    try:
        settings_dict = dj_database_url.parse(database_url)
    except Exception as error:  # dj-database-url raises several types for a bad URL
        raise BackupError(f"Cannot read the database URL: {error}") from None
    settings_dict.setdefault("OPTIONS", {})
    return settings_dict


def describe(settings_dict):
    """Where a database is, without its password."""
    if engine_of(settings_dict) == SQLITE:
        return f"SQLite {settings_dict['NAME']}"
    host = settings_dict.get("HOST") or "local socket"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"PostgreSQL database {settings_dict.get('NAME')!r} on {host}{port}"


def file_format(path):
    """POSTGRESQL or SQLITE from a backup file's first bytes."""
    path = Path(path)
    if not path.exists():
        raise BackupError(f"Backup file {path} does not exist.")
    if not path.is_file():
        raise BackupError(f"{path} is not a file.")
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head.startswith(PG_CUSTOM_MAGIC):
        return POSTGRESQL
    if head == SQLITE_MAGIC:
        return SQLITE
    raise BackupError(
        f"{path} is neither a PostgreSQL custom-format dump nor an SQLite database "
        "(backup_db writes one of the two, depending on the engine)."
    )


def pg_command(tool, settings_dict, parameters):
    """argv and environment for a PostgreSQL client tool: the password only in the environment."""
    from django.db.backends.postgresql.client import DatabaseClient

    args, env = DatabaseClient.settings_to_cmd_args_env(settings_dict, ["--no-password", *parameters])
    executable = shutil.which(tool)
    if executable is None:
        raise BackupError(f"{tool} is not on PATH; install the PostgreSQL client tools matching the server.")
    return [executable, *args[1:]], {**os.environ, **(env or {})}


def _run(argv, env, what):
    try:
        completed = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    except OSError as error:
        raise BackupError(f"Could not run {argv[0]}: {error}") from None
    if completed.returncode != 0:
        detail = completed.stderr.strip() or completed.stdout.strip() or f"exit status {completed.returncode}"
        raise BackupError(f"{what} failed:\n{detail}")
    return completed


def pg_connect(settings_dict):
    import psycopg

    options = settings_dict.get("OPTIONS") or {}
    params = {name: options[name] for name in LIBPQ_OPTIONS if name in options}
    params.setdefault("connect_timeout", 10)
    for key, name in (("NAME", "dbname"), ("USER", "user"), ("PASSWORD", "password"), ("HOST", "host")):
        if settings_dict.get(key):
            params[name] = settings_dict[key]
    if settings_dict.get("PORT"):
        params["port"] = int(settings_dict["PORT"])
    try:
        return psycopg.connect(autocommit=True, **params)
    except psycopg.OperationalError as error:
        message = str(error).strip()
        hint = ""
        if "does not exist" in message:
            hint = (
                f"\nCreate it first, e.g. createdb -h {settings_dict.get('HOST') or 'HOST'} {settings_dict.get('NAME')}"
            )
        raise BackupError(f"Cannot connect to {describe(settings_dict)}: {message}{hint}") from None


def _sqlite_path(settings_dict):
    name = str(settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupError(f"Cannot restore into the in-memory SQLite database {name!r}; give a file.")
    return Path(name)


# Listing tables --------------------------------------------------------------------


PG_TABLES = """
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
    ORDER BY 1, 2
"""


def list_tables(settings_dict, sequences=True):
    """Every table and view (and sequence) of a database; an SQLite file that does not exist has none."""
    if engine_of(settings_dict) == POSTGRESQL:
        query = PG_TABLES if sequences else PG_TABLES.replace("'S', ", "")
        with pg_connect(settings_dict) as connection:
            return [f"{schema}.{name}" for schema, name in connection.execute(query).fetchall()]
    path = _sqlite_path(settings_dict)
    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        with _sqlite_readonly(path) as connection:
            rows = connection.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            ).fetchall()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a usable SQLite database: {error}") from None
    return [name for (name,) in rows]


class _sqlite_readonly:
    def __init__(self, path):
        self.connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)

    def __enter__(self):
        return self.connection

    def __exit__(self, *exc):
        self.connection.close()


# Backup ----------------------------------------------------------------------------


def backup_database(path, using="default"):
    """Write a backup of database ``using`` to ``path`` (replaced only once the backup is complete)."""
    connection = connections[using]
    engine = engine_of(connection.settings_dict)
    path = Path(path)
    if not path.parent.is_dir():
        raise BackupError(f"Folder {path.parent} does not exist.")
    start = time.monotonic()
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    partial = Path(partial)
    try:
        if engine == POSTGRESQL:
            argv, env = pg_command(
                "pg_dump", connection.settings_dict, ["--format=custom", "--compress=6", f"--file={partial}"]
            )
            _run(argv, env, "pg_dump")
        else:
            _sqlite_backup_from_connection(connection, partial)
        partial.chmod(0o600)  # a backup holds password hashes and sessions
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return Result(path=path, engine=engine, seconds=time.monotonic() - start)


def _sqlite_backup_from_connection(connection, destination):
    """The online backup API on Django's own connection: one consistent snapshot, even of ``:memory:``."""
    connection.ensure_connection()
    target = sqlite3.connect(destination)
    try:
        connection.connection.backup(target)
    except sqlite3.Error as error:
        raise BackupError(f"SQLite backup failed: {error}") from None
    finally:
        target.close()


# Restore ---------------------------------------------------------------------------


def restore_database(path, settings_dict=None, *, force=False, invalidate_pages=True):
    """Restore backup ``path`` into the database of ``settings_dict`` (default: the default database).

    The target must hold no table unless ``force``. With ``invalidate_pages``, the content
    generation is moved past any value it had before, so the page cache serves nothing old.
    """
    path = Path(path)
    settings_dict = settings_dict or connections["default"].settings_dict
    engine = engine_of(settings_dict)
    found = file_format(path)
    if found != engine:
        raise BackupError(
            f"{path} is {A_ENGINE[found]} backup, but the target is {describe(settings_dict)}: "
            f"restore it into {A_ENGINE[found]} database (--database-url)."
        )
    existing = list_tables(settings_dict)
    if existing and not force:
        shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
        raise BackupError(
            f"The target {describe(settings_dict)} is not empty ({len(existing)} tables: {shown}). "
            "Restore into a fresh database, or pass --force to replace what is there."
        )
    start = time.monotonic()
    # Django's own connections to the target would hold locks or stale state.
    connections.close_all()
    if engine == POSTGRESQL:
        _pg_restore(path, settings_dict, clean=bool(existing))
    else:
        _sqlite_restore(path, settings_dict)
    result = Result(path=path, engine=engine, seconds=time.monotonic() - start)
    result.tables = len(list_tables(settings_dict, sequences=False))
    if invalidate_pages:
        result.generation = fresh_generation(settings_dict, result.notes)
    return result


def _pg_restore(path, settings_dict, clean):
    argv, env = pg_command("pg_restore", settings_dict, [])
    # Read the whole table of contents first: a truncated or damaged dump stops here.
    _run([argv[0], "--list", str(path)], env, f"Reading {path} (pg_restore --list)")
    parameters = ["--no-owner", "--exit-on-error", "--single-transaction"]
    if clean:
        parameters += ["--clean", "--if-exists"]
    argv, env = pg_command("pg_restore", settings_dict, parameters)
    # settings_to_cmd_args_env puts the database name last; pg_restore wants it as --dbname.
    dbname = argv.pop()
    _run([*argv, f"--dbname={dbname}", str(path)], env, "pg_restore")


def _sqlite_restore(path, settings_dict):
    target_path = _sqlite_path(settings_dict)
    if not target_path.parent.is_dir():
        raise BackupError(f"Folder {target_path.parent} does not exist.")
    try:
        with _sqlite_readonly(path) as source:
            (check,) = source.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise BackupError(f"{path} is damaged (PRAGMA quick_check: {check}); nothing was restored.")
            target = sqlite3.connect(target_path)
            try:
                source.backup(target)
            finally:
                target.close()
    except sqlite3.Error as error:
        raise BackupError(f"SQLite restore failed: {error}") from None


def fresh_generation(settings_dict, notes=None):
    """Set the content generation to a value never used before, and a new epoch; returns the generation.

    A plain bump (+1) is not enough after restoring an older backup: the generation
    goes back to an old value, and its successors were already used (and cached)
    by the newer content. The clock in microseconds is past any counter reached by
    bumping, and past the value set by any earlier restore. A restored database is
    another history, so it also gets a new epoch: pinned comparisons of the database it
    replaced (whose later versions the backup lacks) are refused, never shown with other
    content. A backup older than epochs gets one from ``migrate``.
    """
    if notes is None:
        notes = []
    table = CONTENT_VERSION_TABLE
    if not any(name.split(".")[-1] == table for name in list_tables(settings_dict)):
        notes.append(f"No {table} table in the restored database: the content generation was not changed.")
        return None
    now = datetime.now(UTC)
    if engine_of(settings_dict) == POSTGRESQL:
        with pg_connect(settings_dict) as connection:
            has_epoch = "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = 'epoch'"
            epoch = connection.execute(has_epoch, [table]).fetchone() is not None
            generation = _fresh(connection, table, "%s", epoch, now)
        return generation
    connection = sqlite3.connect(_sqlite_path(settings_dict))
    try:
        with connection:
            epoch = connection.execute("SELECT 1 FROM pragma_table_info(?) WHERE name = 'epoch'", [table]).fetchone()
            # Django stores SQLite datetimes as ISO text without a zone (always UTC with USE_TZ).
            generation = _fresh(connection, table, "?", epoch is not None, now.replace(tzinfo=None).isoformat(sep=" "))
    finally:
        connection.close()
    return generation


def _fresh(connection, table, placeholder, with_epoch, changed):
    """Write the fresh generation (and epoch) on a DB-API ``connection`` of either engine; returns the generation."""
    row = connection.execute(f"SELECT generation FROM {table} WHERE id = 1").fetchone()
    generation = max((row[0] if row else 0) + 1, time.time_ns() // 1000)
    values = {"generation": generation, "changed": changed} | ({"epoch": new_epoch()} if with_epoch else {})
    columns = ", ".join(values)
    updates = ", ".join(f"{name} = excluded.{name}" for name in values)
    marks = ", ".join([placeholder] * (len(values) + 1))
    connection.execute(
        f"INSERT INTO {table} (id, {columns}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {updates}",
        [1, *values.values()],
    )
    return generation
