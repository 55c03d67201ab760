"""The load step of `make run` and `make serve`: the site starts whatever the load decides.

- The load applies the files and keeps the admin's work: the site starts on the result.
- The load refuses (records changed both in the admin and in the files): the database is left
  as it was, a warning names the records and what to do, and the site starts on it.
- A content file is broken (syntax, validation): `make run` stops (exit status 1) so the author
  fixes it; with ``--keep-serving`` (`make serve`) the site keeps serving the last good database.
"""

import os
import shlex
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kb.content.loader import SyncConflictError, load_content
from kb.content.yamlio import ContentError


def command_line(*args):
    """The command to run next, exactly as it runs in this environment (printed in the notes below).

    This Python, named relative to the working directory when it lies inside it (``.venv/bin/python``),
    and, under debug (`make run`), the ``DJANGO_DEBUG=1`` the development server runs with; production
    (`make serve`, a server) runs it in its own environment.
    """
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd() + os.sep) else sys.executable
    prefix = ["DJANGO_DEBUG=1"] if settings.DEBUG else []
    return " ".join([*prefix, shlex.quote(python), "manage.py", *(shlex.quote(str(arg)) for arg in args)])


class Command(BaseCommand):
    help = "Load the content files before the site starts; a refused load never stops the start."

    def add_arguments(self, parser):
        parser.add_argument("directory", nargs="?", default=str(settings.KB_CONTENT_DIR))
        parser.add_argument(
            "--keep-serving",
            action="store_true",
            help="Start on the current database even when a content file is broken (production).",
        )

    def warn(self, lines):
        rule = "=" * 78
        self.stderr.write(self.style.WARNING("\n".join([rule, *lines, rule])))

    def handle(self, *args, directory, keep_serving, **options):
        try:
            report = load_content(directory)
        except SyncConflictError as error:
            self.warn(
                [
                    "WARNING: the content files were NOT loaded; the site starts on the current database.",
                    error.message,
                    f"Then run: {command_line('load_content', directory)}",
                ]
            )
            return
        except ContentError as error:
            if not keep_serving:
                raise CommandError(f"{error}\nFix the content file; nothing was loaded.") from None
            self.warn(
                [
                    "WARNING: a content file is broken; nothing was loaded and the site keeps serving "
                    "the last good database.",
                    str(error),
                    f"Fix the file, then run: {command_line('load_content', directory)}",
                ]
            )
            return
        if report.kept:
            self.warn(
                [
                    f"Note: kept {len(report.kept)} records changed in the admin and not yet in the files:",
                    *(f"  {line}" for line in report.kept_lines()),
                    f"Write them to the files with: {command_line('export_content', directory)}",
                ]
            )
        if options["verbosity"] > 0:
            self.stdout.write(self.style.SUCCESS("Loaded." if report.changed else "Content files: nothing changed."))
