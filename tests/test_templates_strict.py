"""Undefined template variables: an error in tests, an empty and logged gap in production (kb.site.jinja2)."""

import logging

import pytest
from django.template import engines
from django.test import override_settings
from jinja2 import UndefinedError

from kb.site.jinja2 import environment


def test_a_misspelt_variable_fails_in_tests():
    template = engines["jinja2"].from_string("<h1>{{ page_titel }}</h1>")
    with pytest.raises(UndefinedError):
        template.render({"page_title": "Right"})


def test_a_missing_attribute_fails_in_tests():
    template = engines["jinja2"].from_string("{{ record.run }}")
    with pytest.raises(UndefinedError):
        template.render({"record": {"state": "none"}})


def test_page_defaults_are_globals_a_view_overrides():
    template = engines["jinja2"].from_string("{{ og_type }}|{{ nav_section }}")
    assert template.render({}) == "website|"
    assert template.render({"og_type": "article", "nav_section": "subjects"}) == "article|subjects"


@override_settings(KB_STRICT_TEMPLATES=False)
def test_production_renders_a_gap_and_logs_it(caplog):
    env = environment()
    with caplog.at_level(logging.WARNING, logger="kb.templates"):
        assert env.from_string("<h1>{{ page_titel }}</h1>").render() == "<h1></h1>"
    assert any("page_titel" in record.getMessage() for record in caplog.records)
