"""The full-text search index (stub: the full-text engines replace this)."""


def rebuild():
    """Rebuild every search document from the content (called after bulk writes)."""
