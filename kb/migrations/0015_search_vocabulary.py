"""The vocabulary of SQLite's full-text index (fts5vocab): which terms it holds, so that a search word
whose stem begins no other term is searched as that term, not as a prefix (kb.site.search)."""

from django.db import migrations

SQLITE_FORWARD = "CREATE VIRTUAL TABLE kb_search_vocab USING fts5vocab(kb_search_fts, row)"
SQLITE_BACKWARD = "DROP TABLE IF EXISTS kb_search_vocab"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("kb", "0014_merge_0011_caches_indexes_0013_merge_20261203_1010")]

    operations = [migrations.RunPython(forward, backward)]
