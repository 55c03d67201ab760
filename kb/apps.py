from django.apps import AppConfig
from django.db.models.signals import post_migrate


class KbConfig(AppConfig):
    name = "kb"
    verbose_name = "Knowledge base"

    def ready(self):
        # Django's app loading: these modules register system checks and signal handlers once models exist.
        from kb.comparison import read_model
        from kb.knowledge import featured, signals  # noqa: F401 (featured registers a check)
        from kb.ops import checks  # noqa: F401 (registers the deploy checks)
        from kb.site import search_index

        signals.connect()
        signals.on_content_change(read_model.apply)
        post_migrate.connect(read_model.rebuild_after_migrate, sender=self, dispatch_uid="kb-rebuild-cells")
        search_index.connect()
