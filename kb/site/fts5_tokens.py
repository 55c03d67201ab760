"""What SQLite's FTS5 tokenizer (``porter unicode61``, the search index's) makes of a word, asked of SQLite itself.

A private in-memory database per thread holds an empty FTS5 table with the index's tokenizer; a word's
tokens are read back from its vocabulary. It is the SQLite library Django's SQLite backend runs on, so
the stems are the index's own, never a second stemmer's guess. Remembered per word.
"""

import sqlite3
import threading
from functools import lru_cache

TOKENIZER = "porter unicode61"  # as kb/migrations/0003_site_state_and_search.py creates kb_search_fts

_local = threading.local()


def _connection():
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        connection.execute(f"CREATE VIRTUAL TABLE words USING fts5(word, tokenize='{TOKENIZER}')")
        connection.execute("CREATE VIRTUAL TABLE tokens USING fts5vocab(words, instance)")
        _local.connection = connection
    return connection


@lru_cache(maxsize=4096)
def tokens(word):
    """The terms the index holds for ``word``, in order: ("templat",) for "templates"."""
    connection = _connection()
    with connection:
        connection.execute("INSERT INTO words (rowid, word) VALUES (1, ?)", (word,))
        found = connection.execute("SELECT term FROM tokens ORDER BY offset").fetchall()
        connection.execute("DELETE FROM words")
    return tuple(term for (term,) in found)
