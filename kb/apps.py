from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "kb"
    verbose_name = "Knowledge base"

    def ready(self):
        from . import checks, search_index, signals  # noqa: F401 (checks registers itself)

        signals.connect()
        search_index.connect()
