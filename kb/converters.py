"""Path converter for comparison specs: ``a-vs-b`` … up to any number of slugs."""

from .models import COMPARE_SEPARATOR


class CompareSpecConverter:
    regex = r"[-a-zA-Z0-9_]+?(?:-vs-[-a-zA-Z0-9_]+?)*"

    def to_python(self, value):
        return value.split(COMPARE_SEPARATOR)

    def to_url(self, value):
        if isinstance(value, str):
            return value
        return COMPARE_SEPARATOR.join(value)
