from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "kb"
    verbose_name = "Knowledge base"

    def ready(self):
        from . import featured, search_index, signals  # noqa: F401 (featured registers a check)

        signals.connect()
        search_index.connect()
