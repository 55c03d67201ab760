"""The captures that travel with the content (content/captures): the rule they obey, and how they are made.

``scripts/render_doc_captures.py --check`` makes them again from the releases (it downloads the sdists, so
it is not run here); these tests hold the files in the repository to the rule, and the renderer to the
rendering the archive's README describes, on small pieces of reStructuredText.
"""

import importlib.util
import tomllib

import pytest
from django.conf import settings

from kb.content.files import read_content
from kb.evidence.capture_files import may_travel
from kb.evidence.captures import from_file
from kb.knowledge.models import Source

CAPTURES = settings.KB_CONTENT_DIR / "captures"
MANIFEST = tomllib.loads((CAPTURES / "manifest.toml").read_text(encoding="utf-8"))


def _load_renderer():
    path = settings.BASE_DIR / "scripts" / "render_doc_captures.py"
    spec = importlib.util.spec_from_file_location("render_doc_captures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _load_renderer()


def test_every_capture_in_the_repository_may_travel_is_named_by_the_manifest_and_is_the_one_the_content_names():
    sources = {row.values["archive"]: row for row in read_content(settings.KB_CONTENT_DIR).rows[Source]}
    files = sorted(CAPTURES.glob("*.txt"))
    assert len(files) == 35
    for path in files:
        name = path.stem
        row = sources[name]
        assert may_travel(row.values["licence"]), f"{name}: licence {row.values['licence']!r} keeps it out"
        assert MANIFEST["captures"][name]["release"] in MANIFEST["releases"], name
        sha256, characters = from_file(path).fingerprint
        assert (row.values["capture_sha256"], row.values["capture_characters"]) == (sha256, characters), name
    assert set(MANIFEST["captures"]) == {path.stem for path in files}


def test_the_licence_of_each_release_travels_with_its_captures():
    for release in MANIFEST["releases"].values():
        stem = release["licence_file"].split(".")[0]
        assert (CAPTURES / "licences" / f"{release['package']}-{release['version']}-{stem}.txt").is_file()


def test_no_article_and_no_non_commercial_text_is_in_the_repository():
    rows = read_content(settings.KB_CONTENT_DIR).rows[Source]
    kept_out = [row.values["archive"] for row in rows if not may_travel(row.values["licence"])]
    assert "jelvix-difference-between-django-and-flask" in kept_out and "pyramid-2.1-docs-quick_tour" in kept_out
    assert not [name for name in kept_out if (CAPTURES / f"{name}.txt").exists()]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Use ``async def`` here.", "Use async def here."),
        ("See :meth:`~flask.Flask.route` and :class:`flask.views.View`.", "See route and flask.views.View."),
        ("Built :ref:`both sync and async\n    <async-middleware>` contexts.", "Built both sync and async contexts."),
        ("**Do not use it.** *Really*.", "Do not use it. Really."),
        ("Per :pep:`519`, see `the docs <https://example.org>`_.", "Per 519, see the docs."),
        ("HTTP Methods\n````````````\n\nA ``GET`` or ``methods``.", "HTTP Methods\n````````````\n\nA GET or methods."),
        ("Like this::\n\n    x = ``raw``\n\nDone.", "Like this::\n\n    x = ``raw``\n\nDone."),
        (".. code-block:: python\n    :caption: ``app.py``\n\n    a = *b*",
         ".. code-block:: python\n    :caption: app.py\n\n    a = *b*"),
        ("..\n   A remark with ``code``.\n\nText.", "..\n   A remark with ``code``.\n\nText."),
    ],
)  # fmt: skip
def test_the_plain_rendering_of_flask_and_django(source, expected):
    assert render.render(source) == expected + "\n"


def test_the_tornado_rendering_resolves_references_to_titles_and_the_default_role():
    docs = {"guide/intro.rst": "Introduction\n============\n", "x.rst": ".. _debug-mode:\n\nDebug\n-----\n"}
    style = render.Style(joined=True, default_role=True, titles=render.titles_of(docs), version="6.6.1")
    source = "A `.RequestHandler`, `~.RequestHandler.write`, :doc:`guide/intro`, :ref:`debug-mode`, :pep:`8`, |version|"
    assert render.render(source, style) == "A RequestHandler, write, Introduction, Debug, PEP 8, 6.6.1\n"
    assert render.render("* :ref:`genindex`", style) == "* Index\n"
