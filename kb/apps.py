from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "kb"
    verbose_name = "Knowledge base"

    def ready(self):
        from . import checks, featured, search_index, signals  # noqa: F401 (featured and checks register checks)

        signals.connect()
        search_index.connect()
