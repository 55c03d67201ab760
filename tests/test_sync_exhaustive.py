"""Every sequence of up to 6 operations on two records and two folders keeps the admin's work.

A bounded exhaustive check of the sync's decisions (kb.content.sync: plan_load, fingerprint,
bases_of), the same code ``load_content`` runs, on a cheap in-process model of everything
around it: the database and each folder are a mapping {claim key: cell}, turned into content
rows exactly as kb.content.files and kb.content.database would give them; a load writes
what the plan says (Plan.database_after) and remembers the files as the folder's base; an
export makes the folder the database and remembers that.

The operations: the admin creates, edits or deletes a claim; someone creates, edits or
deletes a claim in the files of ``content/`` or of ``other/`` (once exported); export to
either; load either, with and without ``--force``. Edits write a value never seen before,
so a lost change cannot hide behind an equal one. After every step:

- no change made in the admin is lost: after a load of a folder, every change the admin made
  since that folder was last loaded or exported (and that differs from what the folder said
  then) is still in the database, unless the load was forced and named it as discarded. An
  export to the folder gives it the admin's work (the files' later changes are made on top of
  it), and a load of another folder that changed the record supersedes it;
- a refused load names only real conflicts (both sides changed the record since the base,
  differently) and writes nothing.

States already explored with as many steps left are not explored again (a state: both
records in the database, in each folder and in each base, and what the check still tracks),
and inapplicable operations (editing a missing record, loading a folder never exported) are
skipped: they would be a shorter sequence. ``KB_SYNC_DEPTH`` changes the length (default 6).
The real commands, with files and a database, are checked by tests/test_sync.py and the
state machine in tests/test_sync_state_machine.py.
"""

import datetime
import itertools
import os
import time

from kb.content.files import ContentSet, Row
from kb.content.sync import bases_of, fingerprint, plan_load
from kb.knowledge import models as m

DEPTH = int(os.environ.get("KB_SYNC_DEPTH", "6"))
RECORDS = ("one", "two")
FOLDERS = ("content", "other")
SUBJECT = ("alpha",)
WHEN = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
LOST = object()

# The records every side holds, unchanged: what a claim refers to.
FIXED = [
    (m.SubjectKind, ("tool",), {"name": "Tool", "description": "", "order": 1}),
    (m.Subject, SUBJECT, {"name": "Alpha", "kind": ("tool",), "homepage": "", "first_release": None, "summary": ""}),
    (m.DimensionGroup, ("speed",), {"name": "Speed", "description": "", "order": 1}),
    (m.Dimension, ("startup",), {"name": "Startup", "description": "", "order": 1, "group": ("speed",)}),
]


def content_of(cells, where):
    """The content rows of a side holding ``cells`` ({claim key: cell})."""
    content = ContentSet()
    rows = [Row(model, key, dict(values), where, 0, "fixed") for model, key, values in FIXED]
    for order, (key, cell) in enumerate(sorted(cells.items()), 1):
        values = {
            "dimension": ("startup",), "cell": cell, "support": "", "applies_to": "", "status": "published",
            "outdated": False, "outdated_since": "", "superseded_by": None, "body": "", "editor_note": "",
            "order": order, "reviewed": None, "added": WHEN, "changed": WHEN,
        }  # fmt: skip
        rows.append(Row(m.Claim, (SUBJECT, key), values, where, 0, f"claim {key!r}"))
    content.extend(rows)
    return content


def cells_of(rows):
    return {key[1]: row.values["cell"] for key, row in rows.items()}


class World:
    """The database, the folders, their bases, and what the check tracks: all plain values."""

    def __init__(self):
        self.db = {"one": "v0"}
        self.files = {"content": {"one": "v0"}, "other": None}
        self.base = {"content": {"one": "v0"}, "other": None}  # the cells each folder's base was taken from
        # per folder, the admin's changes it has not seen: claim -> the admin's value (None: deleted)
        self.pending = {"content": {}, "other": {}}

    def copy(self):
        world = World.__new__(World)
        world.db = dict(self.db)
        world.files = {name: None if f is None else dict(f) for name, f in self.files.items()}
        world.base = {name: None if b is None else dict(b) for name, b in self.base.items()}
        world.pending = {name: dict(p) for name, p in self.pending.items()}
        return world

    def state(self):
        """A canonical form: values renamed in order of appearance (equal states, equal forms)."""
        parts = [self.db, *self.files.values(), *self.base.values(), *self.pending.values()]
        names = {}

        def canon(mapping):
            if mapping is None:
                return None
            shown = []
            for record in RECORDS:
                value = mapping.get(record, LOST)
                shown.append("-" if value is LOST else value if value is None else names.setdefault(value, len(names)))
            return tuple(shown)

        return tuple(canon(part) for part in parts)

    # The operations -------------------------------------------------------------------------

    def operations(self, step):
        new_admin, new_file = f"admin-{step}", f"file-{step}"
        for record in RECORDS:
            if record in self.db:
                yield f"admin edits {record}", lambda w, r=record: w.admin(r, new_admin)
                yield f"admin deletes {record}", lambda w, r=record: w.admin(r, None)
            else:
                yield f"admin creates {record}", lambda w, r=record: w.admin(r, new_admin)
        for folder, record in itertools.product(FOLDERS, RECORDS):
            files = self.files[folder]
            if files is None:
                continue
            if record in files:
                yield f"{folder}/ edits {record}", lambda w, f=folder, r=record: w.edit_file(f, r, new_file)
                yield f"{folder}/ deletes {record}", lambda w, f=folder, r=record: w.edit_file(f, r, None)
            else:
                yield f"{folder}/ creates {record}", lambda w, f=folder, r=record: w.edit_file(f, r, new_file)
        for folder in FOLDERS:
            yield f"export {folder}/", lambda w, f=folder: w.export(f)
            if self.files[folder] is not None:
                yield f"load {folder}/", lambda w, f=folder: w.load(f, force=False)
                yield f"load {folder}/ --force", lambda w, f=folder: w.load(f, force=True)

    def admin(self, record, value):
        self.db.pop(record, None)
        if value is not None:
            self.db[record] = value
        for folder, pending in self.pending.items():
            base = self.base[folder]
            if base is not None and base.get(record) == value:
                pending.pop(record, None)  # back to what the folder said: nothing of the admin's to keep
            else:
                pending[record] = value

    def edit_file(self, folder, record, value):
        if value is None:
            del self.files[folder][record]
        else:
            self.files[folder][record] = value

    def export(self, folder):
        self.files[folder] = dict(self.db)
        self.base[folder] = dict(self.db)
        self.pending[folder] = {}  # the folder holds the admin's work now

    def load(self, folder, force):
        files, database = content_of(self.files[folder], "files"), content_of(self.db, "database")
        base = bases_of(content_of(self.base[folder], "base")) if self.base[folder] is not None else _no_base()
        plan = plan_load(files, base, database, force=force, now=WHEN)
        if plan.refused:
            self.check_conflicts(folder, plan)
            return  # the loader raises before writing anything
        after = cells_of(plan.database_after(database)[m.Claim])
        discarded = {change.key[1] for change in plan.discarded if change.spec.model is m.Claim}
        pending = self.pending[folder]
        for record, value in list(pending.items()):
            if after.get(record) == value:
                if self.files[folder].get(record) == value:
                    del pending[record]  # the loaded files hold it now
            elif force and record in discarded:
                del pending[record]  # a --force load named it
            else:
                raise AssertionError(
                    f"the admin's change of {record} to {value!r} was lost by loading {folder}/ "
                    f"(force={force}): the database now has {after.get(record)!r}"
                )
        for other in FOLDERS:  # a change this load made on top of admin work it had seen supersedes it
            for record in [r for r in self.pending[other] if after.get(r) != self.db.get(r)]:
                del self.pending[other][record]
        self.db = after
        self.base[folder] = dict(self.files[folder])

    def check_conflicts(self, folder, plan):
        files, db = content_of(self.files[folder], "f").rows[m.Claim], content_of(self.db, "d").rows[m.Claim]
        base = {row.key: row for row in content_of(self.base[folder] or {}, "b").rows[m.Claim]}
        by_key = {name: {row.key: fingerprint(row) for row in rows} for name, rows in (("f", files), ("d", db))}
        fps = {**by_key, "b": {key: fingerprint(row) for key, row in base.items()}}
        assert plan.conflicts, "a load was refused without a conflict"
        for change in plan.conflicts:
            f, d, b = (fps[side].get(change.key) for side in ("f", "d", "b"))
            assert f != b and d != b and f != d, f"not a conflict: {change.what} ({f=}, {d=}, {b=})"


def _no_base():
    return bases_of(ContentSet())


def explore(depth):
    """Run every sequence of up to ``depth`` operations; return (states expanded, steps run)."""
    seen = {}  # state -> most steps left it was explored with
    counts = [0, 0]

    def visit(world, path, left):
        state = world.state()
        if seen.get(state, -1) >= left:
            return
        seen[state] = left
        counts[0] += 1
        if not left:
            return
        step = depth - left + 1
        for name, operation in list(world.operations(step)):
            after = world.copy()
            counts[1] += 1
            try:
                operation(after)
            except AssertionError as error:
                raise AssertionError(f"after {' ; '.join([*path, name])}: {error}") from None
            visit(after, [*path, name], left - 1)

    visit(World(), [], depth)
    return counts


def test_every_sequence_of_up_to_six_operations_keeps_the_admins_work():
    started = time.perf_counter()
    states, steps = explore(DEPTH)
    print(f"{DEPTH} steps: {states} states expanded, {steps} steps run in {time.perf_counter() - started:.1f} s")
    assert states > 1000  # the enumeration really ran


def play(steps):
    """Run the named operations in order, checking after each; return the world."""
    world = World()
    for number, name in enumerate(steps, 1):
        dict(world.operations(number))[name](world)
    return world


def test_the_five_steps_of_issue_20_keep_the_claim_in_the_model():
    """Export other/, load other/, the admin adds a claim, export other/, load content/: the claim stays."""
    world = play(["export other/", "load other/", "admin creates two", "export other/", "load content/"])
    assert world.db["two"] == "admin-3"
