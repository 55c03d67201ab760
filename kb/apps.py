from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "kb"
    verbose_name = "Knowledge base"

    def ready(self):
        # Django's app loading: these modules register system checks and signal handlers once models exist.
        from kb.knowledge import featured, signals  # noqa: F401 (featured registers a check)
        from kb.ops import checks  # noqa: F401 (registers the deploy checks)
        from kb.site import search_index

        signals.connect()
        search_index.connect()
