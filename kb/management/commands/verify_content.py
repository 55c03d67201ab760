from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kb.content.files import read_content
from kb.content.yamlio import ContentError
from kb.models import Excerpt, Source
from kb.quotes import archived_text, closest_passage, is_quoted


class Command(BaseCommand):
    help = "Check every excerpt in the content files against the archived text of its source."

    def add_arguments(self, parser):
        parser.add_argument("--sources", required=True, help="Folder of archived source texts (<archive>.txt).")
        parser.add_argument("--content", default=str(settings.KB_CONTENT_DIR), help="Content directory.")

    def handle(self, *args, sources, content, **options):
        archive = Path(sources)
        if not archive.is_dir():
            raise CommandError(f"{archive}: no such folder of archived sources")
        try:
            rows = read_content(content).rows
        except ContentError as error:
            raise CommandError(str(error)) from None
        texts, problems, checked = {}, [], 0
        for row in rows[Source]:
            key = row.values["archive"]
            texts[row.key] = archived_text(archive, key)
            if texts[row.key] is None:
                reason = "has no archive key" if not key else f"has no archived text {key}.txt in {archive}"
                problems.append(row.error(reason))
        for row in rows[Excerpt]:
            text = texts.get(row.key[0])
            if text is None:
                continue
            checked += 1
            if not is_quoted(row.values["text"], text):
                closest = closest_passage(row.values["text"], text)
                problems.append(row.error(f"not found word for word in its source; closest passage: {closest!r}"))
        for problem in problems:
            self.stderr.write(str(problem))
        summary = f"{checked} excerpts checked against {len(texts)} sources, {len(problems)} problems."
        if problems:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))
