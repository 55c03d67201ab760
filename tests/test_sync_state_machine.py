"""Random sequences of admin edits, file edits, exports and loads never lose anybody's work.

A hypothesis state machine plays an editor in the admin (creating, changing and deleting claims
and sources through the models, with history, as the admin does), someone editing the files of
``content/`` or of another folder, ``export_content`` to either, and ``load_content`` of either,
with and without ``--force``. After every load it checks:

- no change made in the admin since the loaded directory was last loaded or exported (and
  that differs from what its files said then) disappears, unless a ``--force`` load reported
  discarding it; a load of another directory that changed the record supersedes it (the same
  invariant as the exhaustive check, tests/test_sync_exhaustive.py);
- no change made in the files is silently lost: a load that succeeds applies it;
- a refused load leaves the database exactly as it was.

``KB_SYNC_EXAMPLES`` (default 25) and ``KB_SYNC_STEPS`` (default 12) make a deeper run. The
default run is derandomised (the same examples every time); ``KB_SYNC_RANDOM=1`` explores new
ones from a fresh seed, printed, and ``KB_SYNC_SEED=<seed>`` replays a run. ``make test`` runs
both: the derandomised examples, and a random run of ``KB_SYNC_RANDOM_EXAMPLES`` (default 15).
"""

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from django.db import transaction
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    rule,
    run_state_machine_as_test,
)

from kb.content.exporter import export_content
from kb.content.loader import load_content
from kb.content.yamlio import ContentError, dump_yaml
from kb.knowledge import models as m

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "content"
EXAMPLES = int(os.environ.get("KB_SYNC_EXAMPLES", "25"))
STEPS = int(os.environ.get("KB_SYNC_STEPS", "12"))
RANDOM = os.environ.get("KB_SYNC_RANDOM") == "1" or bool(os.environ.get("KB_SYNC_SEED"))
RANDOM_EXAMPLES = int(os.environ.get("KB_SYNC_RANDOM_EXAMPLES", "15"))

SUBJECTS = ["alpha", "beta"]
CLAIM_KEYS = ["widgets", "slow-start", "fast-start", "new-one", "new-two"]
SOURCE_SLUGS = ["sample", "new-source", "other-source"]
TEXTS = ["Red", "Green", "Blue"]
DIRS = ["content", "other"]


def _claim(subject, key):
    return ("claim", subject, key)


def _source(slug):
    return ("source", slug)


class SyncMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.root = Path(tempfile.mkdtemp(prefix="kb-sync-machine-"))
        self.dirs = {"content": self.root / "content", "other": self.root / "other"}
        shutil.copytree(FIXTURE, self.dirs["content"])
        load_content(self.dirs["content"])
        self.unseen = {name: {} for name in DIRS}  # record -> admin's value (None: deleted) the directory lacks
        self.pending_files = {name: {} for name in DIRS}  # record -> value written to the files, not yet loaded
        self.file_base = {"content": self.file_state("content"), "other": None}  # files at their last sync

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        shutil.rmtree(self.root, ignore_errors=True)

    # What each side holds --------------------------------------------------------------------

    @staticmethod
    def db_state():
        state = {_claim(s, k): cell for s, k, cell in m.Claim.objects.values_list("subject__slug", "key", "cell")}
        state.update({_source(slug): title for slug, title in m.Source.objects.values_list("slug", "title")})
        return state

    def file_state(self, name):
        directory = self.dirs[name]
        state = {}
        for subject in SUBJECTS:
            path = directory / "claims" / f"{subject}.yaml"
            for record in (yaml.safe_load(path.read_text()) or []) if path.exists() else []:
                state[_claim(subject, record["key"])] = record["cell"]
        for path in sorted((directory / "sources").glob("*.yaml")):
            state[_source(path.stem)] = yaml.safe_load(path.read_text())["title"]
        return state

    def admin_changed(self, record, value, before):
        if value == before:
            return  # saving a record unchanged is no change to protect
        for name in DIRS:
            base = self.file_base[name]
            if base is not None and base.get(record) == value:
                self.unseen[name].pop(record, None)  # back to what the directory said
            else:
                self.unseen[name][record] = value

    def files_changed(self, name, record, value):
        base = self.file_base[name]
        if base is not None and base.get(record) == value:
            self.pending_files[name].pop(record, None)  # back to what the directory said: no change
        else:
            self.pending_files[name][record] = value

    # The editor, in the admin -----------------------------------------------------------------
    # Four rules (admin edit, file edit, export, load), so that short sequences mix them well.

    ADMIN_EDIT = dict(
        action=st.sampled_from(["admin_saves_claim", "admin_deletes_claim", "admin_saves_source",
                                "admin_deletes_source"]),
        subject=st.sampled_from(SUBJECTS), key=st.sampled_from(CLAIM_KEYS), slug=st.sampled_from(SOURCE_SLUGS),
        text=st.sampled_from(TEXTS),
    )  # fmt: skip

    @initialize(**ADMIN_EDIT)
    def editor_at_work(self, **edit):
        """Every run starts with work in the admin that no file has yet: what the loader must protect."""
        self.admin_edit(**edit)

    @rule(**ADMIN_EDIT)
    def admin_edit(self, action, subject, key, slug, text):
        if action == "admin_saves_claim":
            self.admin_saves_claim(subject, key, text)
        elif action == "admin_deletes_claim":
            self.admin_deletes_claim(subject, key)
        elif action == "admin_saves_source":
            self.admin_saves_source(slug, text)
        else:
            self.admin_deletes_source(slug)

    @rule(
        action=st.sampled_from(["file_saves_claim", "file_deletes_claim", "file_saves_source_title"]),
        name=st.sampled_from(DIRS), subject=st.sampled_from(SUBJECTS), key=st.sampled_from(CLAIM_KEYS),
        slug=st.sampled_from(SOURCE_SLUGS), text=st.sampled_from(TEXTS),
    )  # fmt: skip
    def file_edit(self, action, name, subject, key, slug, text):
        if action == "file_saves_claim":
            self.file_saves_claim(name, subject, key, text)
        elif action == "file_deletes_claim":
            self.file_deletes_claim(name, subject, key)
        else:
            self.file_saves_source_title(name, slug, text)

    def admin_saves_claim(self, subject, key, cell):
        claim = m.Claim.objects.filter(subject__slug=subject, key=key).first()
        if claim is None:
            claim = m.Claim(subject=m.Subject.objects.get(slug=subject), key=key, status=m.Status.PUBLISHED,
                            dimension=m.Dimension.objects.get(slug="startup"))  # fmt: skip
        before = claim.cell if claim.pk else None
        claim.cell = cell
        claim._change_reason = "admin"
        claim.save()
        self.admin_changed(_claim(subject, key), cell, before)

    def admin_deletes_claim(self, subject, key):
        claim = m.Claim.objects.filter(subject__slug=subject, key=key).first()
        if claim is not None:
            claim.delete()
            self.admin_changed(_claim(subject, key), None, claim.cell)

    def admin_saves_source(self, slug, title):
        source = m.Source.objects.filter(slug=slug).first() or m.Source(slug=slug, kind=m.SourceKind.ARTICLE)
        before = source.title if source.pk else None
        source.title = title
        source._change_reason = "admin"
        source.save()
        self.admin_changed(_source(slug), title, before)

    def admin_deletes_source(self, slug):
        source = m.Source.objects.filter(slug=slug).first()
        if source is not None:
            source.delete()
            self.admin_changed(_source(slug), None, source.title)

    # Someone editing the files -----------------------------------------------------------------

    def has_files(self, name):
        return (self.dirs[name] / "kinds.yaml").exists()

    def _claims_file(self, name, subject):
        path = self.dirs[name] / "claims" / f"{subject}.yaml"
        return path, (yaml.safe_load(path.read_text()) or []) if path.exists() else []

    def file_saves_claim(self, name, subject, key, cell):
        if not self.has_files(name):
            return
        path, records = self._claims_file(name, subject)
        for record in records:
            if record["key"] == key:
                record["cell"] = cell
                break
        else:
            records.append({"key": key, "dimension": "startup", "status": "published", "cell": cell})
        path.parent.mkdir(exist_ok=True)
        path.write_text(dump_yaml(records))
        self.files_changed(name, _claim(subject, key), cell)

    def file_deletes_claim(self, name, subject, key):
        if not self.has_files(name):
            return
        path, records = self._claims_file(name, subject)
        kept = [record for record in records if record["key"] != key]
        if len(kept) != len(records):
            path.write_text(dump_yaml(kept))
            self.files_changed(name, _claim(subject, key), None)

    def file_saves_source_title(self, name, slug, title):
        path = self.dirs[name] / "sources" / f"{slug}.yaml"
        if not path.exists():
            return
        data = yaml.safe_load(path.read_text())
        data["title"] = title
        path.write_text(dump_yaml(data))
        self.files_changed(name, _source(slug), title)

    # Export and load -------------------------------------------------------------------------------

    @rule(name=st.sampled_from(DIRS))
    def export(self, name):
        export_content(self.dirs[name])
        self.unseen[name] = {}  # the files hold the admin's work now
        self.pending_files[name] = {}  # an export overwrites what the files said (see git diff)
        self.file_base[name] = self.file_state(name)

    @rule(name=st.sampled_from(DIRS), force=st.booleans())
    def load(self, name, force):
        if not self.has_files(name):
            return
        before = self.db_state()
        try:
            report = load_content(self.dirs[name], force=force)
        except ContentError as error:
            assert self.db_state() == before, f"a refused load changed the database: {error}"
            return
        after = self.db_state()
        files = self.file_state(name)
        if force and not hasattr(report, "discarded"):
            discarded = None  # an old loader: --force discards what it counts, unnamed
        else:
            discarded = {((c.spec.model.__name__.lower(), *_flat(c.key))) for c in getattr(report, "discarded", [])}
        unseen = self.unseen[name]
        for record, value in list(unseen.items()):
            if after.get(record) == value:
                if files.get(record) == value:
                    del unseen[record]  # the loaded files hold it now
                continue
            if discarded is None or record in discarded:
                del unseen[record]  # a --force load said so
                continue
            raise AssertionError(
                f"the admin's change of {record} to {value!r} was lost by loading {name} (force={force}): "
                f"the database now has {after.get(record)!r}"
            )
        for record, value in self.pending_files[name].items():
            assert after.get(record) == value, (
                f"the files' change of {record} to {value!r} in {name} was not applied by a load that "
                f"succeeded (force={force}): the database has {after.get(record)!r}"
            )
        for other in DIRS:  # a change this load made on top of admin work it had seen supersedes it
            for record in [r for r in self.unseen[other] if after.get(r) != before.get(r)]:
                del self.unseen[other][record]
        self.pending_files[name] = {}
        self.file_base[name] = files


def _flat(key):
    for part in key:
        if isinstance(part, tuple):
            yield from _flat(part)
        else:
            yield part


def _settings(examples, derandomize):
    return settings(
        max_examples=examples,
        stateful_step_count=STEPS,
        deadline=None,
        database=None,  # no example database: each run explores afresh
        derandomize=derandomize,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


@pytest.mark.django_db
def test_no_one_loses_work():
    run_state_machine_as_test(SyncMachine, settings=_settings(EXAMPLES, derandomize=not RANDOM))


@pytest.mark.django_db
def test_no_one_loses_work_random_examples():
    """New examples every run, from a seed printed on failure: ``KB_SYNC_SEED=<seed>`` replays them."""
    chosen = int(os.environ.get("KB_SYNC_SEED") or secrets.randbits(64))
    machine_test = seed(chosen)(get_state_machine_test(SyncMachine, settings=_settings(RANDOM_EXAMPLES, False)))
    try:
        machine_test()
    except BaseException as error:
        error.add_note(f"Replay with KB_SYNC_SEED={chosen} pytest tests/test_sync_state_machine.py")
        raise
