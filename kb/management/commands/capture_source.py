from django.core.management.base import BaseCommand, CommandError

from kb.evidence import captures
from kb.knowledge.models import Source, Verification


class Command(BaseCommand):
    help = (
        "Store the captured text of a source from a plain-text file (.txt), an HTML file (.html, .htm) "
        "or an HTML page's URL; its main text is extracted and fingerprinted, and its excerpts re-verified."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", help="Slug of the source.")
        parser.add_argument("location", help="A file (.txt, .html, .htm) or an http(s) URL.")
        parser.add_argument(
            "--replace", action="store_true", help="Replace a stored capture that has another fingerprint."
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=captures.FETCH_TIMEOUT,
            help="Seconds the whole fetch of a URL may take, redirects included.",
        )
        parser.add_argument(
            "--allow-private",
            action="store_true",
            help="Allow a URL (or a redirect) to an address of this machine or a private network: only for a "
            "source on your own intranet.",
        )

    def handle(self, *args, source, location, replace, timeout, allow_private, **options):
        try:
            record = Source.objects.get(slug=source)
        except Source.DoesNotExist:
            raise CommandError(f"No source {source!r}.") from None
        try:
            extracted = (
                captures.from_url(location, timeout=timeout, allow_private=allow_private)
                if captures.is_url(location)
                else captures.from_file(location)
            )
            excerpts = captures.store_capture(record, extracted, replace=replace)
        except captures.CaptureError as error:
            raise CommandError(str(error)) from None
        sha256, characters = extracted.fingerprint
        verified = sum(e.verification == Verification.VERIFIED for e in excerpts)
        self.stdout.write(
            self.style.SUCCESS(
                f"Stored the capture of {source}: {characters} characters, sha256 {sha256}, "
                f"from {extracted.origin} by {extracted.extractor}; {verified} of {len(excerpts)} excerpts verified."
            )
        )
        for excerpt in excerpts:
            if excerpt.verification != Verification.VERIFIED:
                self.stderr.write(f"  not in the capture: {excerpt.ref}")
        if verified < len(excerpts):
            self.stdout.write("Run export_content to record the fingerprint in the content files.")
