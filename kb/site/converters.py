"""Path converter for comparison specs: ``a-vs-b`` … up to any number of slugs."""

from kb.knowledge.models import COMPARE_SEPARATOR


class CompareSpecConverter:
    # The same language as ``slug(-vs-slug)*`` (the separator's characters are slug characters), written
    # without nested repetition: ``[-\w]+?(?:-vs-[-\w]+?)*`` backtracks exponentially on a path that
    # almost matches (``a-vs-a-vs-…-vs-a!/``), so one request could hold a worker for minutes.
    regex = r"[-a-zA-Z0-9_]+"

    def to_python(self, value):
        return value.split(COMPARE_SEPARATOR)

    def to_url(self, value):
        if isinstance(value, str):
            return value
        return COMPARE_SEPARATOR.join(value)
