"""Every static file the site names exists: a missing one fails here, not on a reader's page.

References are collected from the templates (``{% static '...' %}`` in Django's, ``static('...')`` in
Jinja2's), from Python code
(``static("...")``, form/admin ``Media``) and from CSS ``url(...)``; each must be found
by the static files finders and be in the manifest collectstatic wrote.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage

TEMPLATE_DIRS = [Path(directory) for options in settings.TEMPLATES for directory in options["DIRS"]]
TEMPLATE_DIRS.append(settings.BASE_DIR / "kb" / "templates")
STATIC_TAG = re.compile(r"""{%\s*static\s+(["'])(?P<name>[^"']+)\1""")
DYNAMIC_STATIC_TAG = re.compile(r"""{%\s*static\s+(?!["'])|\bstatic\(\s*(?!["'])""")
PYTHON_STATIC = re.compile(r"""\bstatic\(\s*(["'])(?P<name>[^"']+)\1""")
MEDIA_FILE = re.compile(r"""(["'])(?P<name>[\w./-]+\.(?:css|js))\1""")
CSS_URL = re.compile(r"""url\(\s*(["']?)(?P<url>[^"')]+)\1\s*\)""")


def template_files():
    for directory in TEMPLATE_DIRS:
        if directory.is_dir():
            yield from sorted(path for path in directory.rglob("*") if path.is_file())


def template_references():
    found = []
    for path in template_files():
        text = path.read_text(encoding="utf-8")
        found += [(path, match["name"]) for match in STATIC_TAG.finditer(text)]
        found += [(path, match["name"]) for match in PYTHON_STATIC.finditer(text)]
    return found


def python_references():
    found = []
    for path in sorted((settings.BASE_DIR / "kb").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        found += [(path, match["name"]) for match in PYTHON_STATIC.finditer(text)]
        for block in re.findall(r"class Media:\n((?:\s{8,}.*\n)+)", text):
            found += [(path, match["name"]) for match in MEDIA_FILE.finditer(block)]
    return found


def css_references():
    found = []
    for directory in settings.STATICFILES_DIRS:
        for path in sorted(Path(directory).rglob("*.css")):
            for match in CSS_URL.finditer(path.read_text(encoding="utf-8")):
                url = match["url"].strip()
                if url.startswith(("data:", "#", "http:", "https:", "//")):
                    continue
                name = (path.parent / url.split("?")[0].split("#")[0]).resolve().relative_to(Path(directory).resolve())
                found.append((path, str(name)))
    return found


REFERENCES = template_references() + python_references() + css_references()


def label(reference):
    path, name = reference
    return f"{path.relative_to(settings.BASE_DIR)}:{name}"


def test_references_were_found():
    names = {name for _path, name in template_references()}
    assert {"css/site.css", "js/site.js"} <= names, "the scan of templates/ found nothing: is the regex broken?"


def test_no_dynamic_static_tags():
    """``{% static variable %}`` (or ``static(variable)``) cannot be checked here; the site has none."""
    dynamic = [str(path) for path in template_files() if DYNAMIC_STATIC_TAG.search(path.read_text(encoding="utf-8"))]
    assert not dynamic, dynamic


@pytest.mark.parametrize("reference", REFERENCES, ids=label)
def test_referenced_static_file_exists(reference):
    _path, name = reference
    assert finders.find(name), f"{label(reference)}: no such file in the static folders"


@pytest.mark.parametrize("reference", REFERENCES, ids=label)
def test_referenced_static_file_is_in_the_manifest(reference):
    """What production serves: the hashed name from collectstatic's manifest (strict storage)."""
    _path, name = reference
    try:
        hashed = staticfiles_storage.stored_name(name)
    except ValueError as error:
        pytest.fail(f"{label(reference)}: not in the manifest ({error}); run collectstatic")
    assert (Path(settings.STATIC_ROOT) / hashed).is_file(), f"{label(reference)}: {hashed} was not collected"


def test_a_missing_reference_is_caught(tmp_path):
    """The checks themselves: an unknown name is neither found nor in the manifest."""
    assert finders.find("css/no-such-file.css") is None
    with pytest.raises(ValueError):
        staticfiles_storage.stored_name("css/no-such-file.css")
    fake = tmp_path / "page.html"
    fake.write_text("{% load static %}<link href=\"{% static 'css/no-such-file.css' %}\">", encoding="utf-8")
    assert [match["name"] for match in STATIC_TAG.finditer(fake.read_text())] == ["css/no-such-file.css"]
