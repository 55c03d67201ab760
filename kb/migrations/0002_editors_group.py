"""The Editors group: view, add, change and delete the knowledge base, view its history; nothing else.

Permissions are normally created after migrate (post_migrate), so they are created
here first for the kb app, from the models as they are at this migration.
"""

from django.db import migrations

GROUP = "Editors"
ACTIONS = ("view", "add", "change", "delete")


def editor_codenames(app_config):
    codenames = set()
    for model in app_config.get_models():
        name = model._meta.model_name
        if name.startswith("historical"):
            codenames.add(f"view_{name}")
        else:
            codenames.update(f"{action}_{name}" for action in ACTIONS)
    return codenames


def create_editors_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    kb = apps.get_app_config("kb")
    # The migration state's app config has no models module; create_permissions needs one.
    kb.models_module = True
    create_permissions(kb, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    kb.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    group, _ = Group.objects.using(db).get_or_create(name=GROUP)
    permissions = Permission.objects.using(db).filter(
        content_type__app_label="kb", codename__in=editor_codenames(kb)
    )
    group.permissions.set(permissions)


def remove_editors_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("kb", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_editors_group, remove_editors_group)]
