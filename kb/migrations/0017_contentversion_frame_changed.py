"""ContentVersion.frame_changed: when a change last touched the subjects, their kinds or the dimensions.

Set to the time of the last change: what frames a comparison now is what it was then.
"""

from django.db import migrations, models


def stamp(apps, schema_editor):
    ContentVersion = apps.get_model("kb", "ContentVersion")
    ContentVersion.objects.update(frame_changed=models.F("changed"))


class Migration(migrations.Migration):
    dependencies = [
        ("kb", "0016_cellversion_dimension_open_idx"),
    ]

    operations = [
        migrations.AddField(
            model_name="contentversion",
            name="frame_changed",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(stamp, migrations.RunPython.noop),
    ]
