"""``reverse()``, remembered per (name, arguments): pages name the same URLs many times.

A subject page links a hundred claims, the home page every subject; Django's ``reverse()``
costs tens of microseconds each. The answer depends only on the URL configuration and the
script prefix, both part of the key; a test that changes ``ROOT_URLCONF`` clears the memory.
"""

from functools import lru_cache

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, get_urlconf
from django.urls import reverse as django_reverse


@lru_cache(maxsize=8192)
def _reverse(viewname, args, kwargs, prefix, urlconf):
    return django_reverse(viewname, args=args or None, kwargs=dict(kwargs) or None)


def reverse(viewname, args=(), kwargs=None):
    """As ``django.urls.reverse``; arguments that cannot be remembered (unhashable) are reversed each time."""
    try:
        key = (tuple(args), tuple(sorted((kwargs or {}).items())), get_script_prefix(), get_urlconf())
        return _reverse(viewname, *key)
    except TypeError:
        return django_reverse(viewname, args=args or None, kwargs=kwargs or None)


@receiver(setting_changed)
def _forget(setting, **kwargs):
    if setting == "ROOT_URLCONF":
        _reverse.cache_clear()
