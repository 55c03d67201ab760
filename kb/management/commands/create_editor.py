"""Create or update an editor: an active staff account in the Editors group.

The password is asked twice (getpass), or read from an environment variable for
scripts (KB_EDITOR_PASSWORD by default), and checked by the password validators.
"""

import getpass
import os

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

EDITORS = "Editors"
PASSWORD_ENV = "KB_EDITOR_PASSWORD"
ATTEMPTS = 3


def editor_codenames():
    """View, add, change and delete every model of the knowledge base's admin, and view its history."""
    codenames = set()
    for model in admin.site._registry:
        if model._meta.app_label == "kb":
            name = model._meta.model_name
            codenames.update(f"{action}_{name}" for action in ("view", "add", "change", "delete"))
            codenames.add(f"view_historical{name}")
    return codenames


def editors_group():
    """The Editors group (made by migration kb.0002); recreated with its permissions if it was deleted."""
    group, created = Group.objects.get_or_create(name=EDITORS)
    if created:
        group.permissions.set(Permission.objects.filter(content_type__app_label="kb", codename__in=editor_codenames()))
    return group


class Command(BaseCommand):
    help = (
        "Create (or update) an editor: a staff account in the Editors group. The password is asked twice, "
        f"or read from ${PASSWORD_ENV} (see --password-env)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default=None, help="E-mail address to store on the account.")
        parser.add_argument(
            "--password-env",
            default=PASSWORD_ENV,
            metavar="NAME",
            help=f"Environment variable holding the password (default {PASSWORD_ENV}); asked for when unset.",
        )
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Never prompt: fail when the password variable is unset.",
        )

    def handle(self, *args, username, email, password_env, interactive, **options):
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        created = user is None
        if created:
            user = User(**{User.USERNAME_FIELD: username})
        if email is not None:
            user.email = email

        password = os.environ.get(password_env)
        if password:
            self._validate(password, user)
        elif interactive:
            password = self._ask_password(user)
        else:
            raise CommandError(f"Set ${password_env} to the password, or run the command interactively.")

        with transaction.atomic():
            user.is_staff = True
            user.is_active = True
            user.set_password(password)
            user.save()
            user.groups.add(editors_group())

        if user.is_superuser:
            self.stderr.write(self.style.WARNING(f"{username} is also a superuser: it can do more than an editor."))
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} editor {username} (staff, in the {EDITORS} group)."))

    def _validate(self, password, user):
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError("The password was refused: " + " ".join(error.messages)) from None

    def _ask_password(self, user):
        for _ in range(ATTEMPTS):
            password = getpass.getpass("Password: ")
            if not password:
                self.stderr.write("The password may not be empty.")
                continue
            if password != getpass.getpass("Password (again): "):
                self.stderr.write("The two passwords differ.")
                continue
            try:
                validate_password(password, user)
            except ValidationError as error:
                self.stderr.write("\n".join(error.messages))
                continue
            return password
        raise CommandError(f"No acceptable password after {ATTEMPTS} attempts; the account was not changed.")
