"""The Jinja2 environment of the public pages (the admin stays on Django's engine).

Templates live in templates/jinja2/ and autoescape. Besides Jinja2's own, they get the few
Django helpers they use: ``url()``, ``static()``, ``static_prefix`` and the filters
``date``, ``pluralize``, ``capfirst`` and ``regroup``. Django's Jinja2 backend adds
``request``, ``csrf_input`` and ``csrf_token`` to every page rendered with a request.
"""

import logging
from functools import lru_cache
from itertools import groupby
from operator import attrgetter
from typing import NamedTuple

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.forms.renderers import Jinja2 as Jinja2FormRenderer
from django.template.defaultfilters import capfirst, date, pluralize
from django.templatetags.static import static
from jinja2 import ChainableUndefined, Environment, StrictUndefined, make_logging_undefined

from kb.comparison.marks import Marks
from kb.evidence.states import quote_status
from kb.knowledge.urls_memo import reverse

# Forms on the public pages render their widgets with Jinja2 too (Django's engine took a third
# of the comparison page's time drawing the filters' options); the admin keeps Django's renderer.
FORM_RENDERER = Jinja2FormRenderer()


class Group(NamedTuple):
    grouper: object
    list: list


def regroup(items, attribute):
    """Consecutive items sharing ``attribute``, as (grouper, list) pairs in their order (Django's regroup)."""
    return [Group(key, list(members)) for key, members in groupby(items, key=attrgetter(attribute))]


@lru_cache(maxsize=4096)
def _cached_date(value, arg):
    return date(value, arg)


def cached_date(value, arg=None):
    """Django's ``date`` filter, remembered per (value, format): a table cites the same sources many times."""
    try:
        return _cached_date(value, arg)
    except TypeError:  # unhashable
        return date(value, arg)


@lru_cache(maxsize=256)
def cached_static(path):
    """Django's ``static()``, remembered: the storage's manifest is read once per process anyway."""
    return static(path)


@receiver(setting_changed)
def _forget_static(setting, **kwargs):
    if setting in ("STATIC_URL", "STORAGES"):
        cached_static.cache_clear()


# What base.html reads that a page may leave out, and what it means then: globals, so a view's own
# context wins, and the templates need no guess at an undefined name.
PAGE_DEFAULTS = {
    "page_title": "",
    "page_description": "",
    "canonical_url": "",
    "og_type": "website",
    "og_image": None,
    "robots_noindex": False,
    "nav_section": "",
    "search_query": "",
    "preview": False,
}


def url(viewname, *args, **kwargs):
    return reverse(viewname, args, kwargs)


# In production an undefined name renders empty and is logged ("kb.templates"): a branch no test
# reached shows a gap, not a 500. Tests (KB_STRICT_TEMPLATES) make any undefined name an error, so a
# misspelt variable fails there.
LenientUndefined = make_logging_undefined(logging.getLogger("kb.templates"), base=ChainableUndefined)


def environment(**options):
    options["undefined"] = StrictUndefined if settings.KB_STRICT_TEMPLATES else LenientUndefined
    # Block tags leave no blank lines or indentation behind (a 10 x 100 table has thousands).
    options.setdefault("trim_blocks", True)
    options.setdefault("lstrip_blocks", True)
    env = Environment(**options)
    env.globals.update(PAGE_DEFAULTS)
    env.globals.update({"url": url, "static": cached_static, "static_prefix": settings.STATIC_URL, "marks": Marks})
    env.globals["quote_status"] = quote_status  # the one decision of a quote's state (kb.evidence.states)
    env.filters.update({"date": cached_date, "pluralize": pluralize, "capfirst": capfirst, "regroup": regroup})
    return env
