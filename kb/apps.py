from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "kb"
    verbose_name = "Knowledge base"

    def ready(self):
        from . import search_index, signals

        signals.connect()
        search_index.connect()
