"""The parse cache: keyed by the file's bytes and by the readers' code; tests never share the dev cache."""

from django.conf import settings

from kb.content import parse_cache
from kb.content.files import FileRows


def test_tests_use_their_own_cache_folder():
    assert not str(settings.KB_CONTENT_CACHE).startswith(str(settings.BASE_DIR))


def test_a_change_to_the_reader_code_is_a_cache_miss(tmp_path, settings, monkeypatch):
    settings.KB_CONTENT_CACHE = tmp_path / "cache"
    path = tmp_path / "file.yaml"
    path.write_text("a: 1\n")
    calls = []

    def read(rows, path, label):
        calls.append(path)

    assert isinstance(parse_cache.rows(path, "file", read), FileRows)
    parse_cache.rows(path, "file", read)
    assert len(calls) == 1  # the second read came from the cache
    monkeypatch.setattr(parse_cache, "_code_digest", b"the readers changed")
    parse_cache.rows(path, "file", read)
    assert len(calls) == 2


def test_the_code_digest_covers_the_reader_modules(monkeypatch, tmp_path):
    monkeypatch.setattr(parse_cache, "_code_digest", None)
    before = parse_cache.code_digest()
    monkeypatch.setattr(parse_cache, "_code_digest", None)
    monkeypatch.setattr(parse_cache, "READER_MODULES", (*parse_cache.READER_MODULES[:-1],))
    assert parse_cache.code_digest() != before
