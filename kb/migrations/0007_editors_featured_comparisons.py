"""Editors may curate the featured comparisons too: the group is given the kb models as they are now."""

import importlib

from django.db import migrations

editors = importlib.import_module("kb.migrations.0002_editors_group")


class Migration(migrations.Migration):
    dependencies = [("kb", "0006_evidence_dates_outdated_featured")]

    operations = [migrations.RunPython(editors.create_editors_group, migrations.RunPython.noop)]
