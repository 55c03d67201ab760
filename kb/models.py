"""Django loads an app's models from ``kb.models``: the knowledge model lives in :mod:`kb.knowledge.models`."""

from kb.comparison.models import *  # noqa: F403
from kb.knowledge.models import *  # noqa: F403
