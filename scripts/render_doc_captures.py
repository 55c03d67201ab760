#!/usr/bin/env python3
"""Make the documentation captures of content/captures/ again from the package releases that ship them.

    python scripts/render_doc_captures.py [--check] [--sdists DIR] [--out DIR]

Reads content/captures/manifest.toml: each release (a source distribution on PyPI, pinned by
version and SHA-256) and, for each capture, the reStructuredText file in that release it is
rendered from. Downloads each sdist with ``pip download --no-deps --no-binary :all:`` unless
``--sdists`` names a folder that already holds them, checks its SHA-256, and renders each page to
plain text the way ../shared/sources/README.md describes (inline markup removed; headings,
directives, literal blocks and prose kept as they stand). ``--check`` writes nothing and fails
when a rendered text differs from the file in the repository. Standard library only (plus pip).
"""

import argparse
import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "content" / "captures"
MANIFEST = CAPTURES / "manifest.toml"

# Literal blocks ----------------------------------------------------------------------------------

LITERAL_DIRECTIVES = ("code-block", "code", "sourcecode", "console", "literalinclude", "highlight", "doctest")
_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w:-]+)::")
_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:._])\1{2,}$")  # a heading's under- or overline
_OPTION = re.compile(r"^\s+:[\w-]+:")
_COMMENT = re.compile(r"^\s*\.\.(\s+(?![\w:-]+::|_|\[|\|)\S.*)?$")  # ".." alone or ".. a remark"


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def literal_lines(lines):
    """Indexes of the lines that belong to literal blocks (never touched by the inline rules)."""
    protected = set()
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE.match(line)
        literal_directive = directive and directive.group(2) in LITERAL_DIRECTIVES
        paragraph_colons = line.rstrip().endswith("::") and not line.lstrip().startswith("..")
        if literal_directive or _COMMENT.match(line) or paragraph_colons:
            base = _indent(line)
            j = i + 1
            while directive and j < len(lines) and _OPTION.match(lines[j]):  # ":caption: ..." is prose
                j += 1
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > base):
                if lines[j].strip():
                    protected.add(j)
                j += 1
            i = j
            continue
        i += 1
    return protected


# Inline markup ---------------------------------------------------------------------------------

_WS = re.compile(r"\s+")
_ROLE = re.compile(r":(?P<role>[A-Za-z][\w:+.-]*):`(?P<body>[^`]+?)`(?!`)")
_LITERAL = re.compile(r"(?<!`)``(?P<body>[^`\s](?:[^`]*?[^`\s])?)``(?!`)")
_BACKQUOTED = re.compile(r"(?<![`\w])`(?P<body>[^`]+?)`(?P<link>_{0,2})(?![`\w])")
_STRONG = re.compile(r"\*\*(?P<body>[^*\s](?:[^*]*?[^*\s])?)\*\*")
_EMPH = re.compile(r"(?<![*\w])\*(?P<body>[^*\s](?:[^*]*?[^*\s])?)\*(?![*\w])")
_TARGET = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]*)>$", re.DOTALL)
_SUBSTITUTION = re.compile(r"\|(?P<name>version|release)\|")


class Style:
    """How one release's pages were rendered (see ../shared/sources/README.md).

    ``joined``: text that spans source lines (a link, a role, emphasis) is put on one line, ``PEP n``
    and ``RFC n`` are spelled out, a ``:ref:``/``:doc:`` without its own text becomes the title it
    points to, and single backquotes are the default role (a cross-reference); otherwise (the
    2026-11-28 rendering of Flask and Django) such text keeps its line breaks and a role keeps its target.
    """

    def __init__(self, joined=False, default_role=False, titles=None, version=""):
        self.joined, self.default_role, self.titles, self.version = joined, default_role, titles or {}, version

    def text(self, value):
        return value.strip()

    def role(self, role, body):
        explicit = _TARGET.match(body.strip())
        if explicit and explicit.group("text"):
            return self.text(explicit.group("text"))
        target = (explicit.group("target") if explicit else body).strip()
        if self.joined and role == "pep":
            return f"PEP {target}"
        if self.joined and role == "rfc":
            return f"RFC {target}"
        if self.joined and role in ("doc", "ref"):
            return self.titles.get(target.lstrip("/"), target)
        target = target.lstrip("!")
        if target.startswith("~"):
            target = target[1:].rsplit(".", 1)[-1]
        if self.joined:
            target = target.split(":", 1)[1] if role in ("doc", "ref") and ":" in target else target
            target = target.lstrip(".")
        return target

    def backquoted(self, match):
        body, link = match.group("body"), match.group("link")
        if link:  # a hyperlink reference: `text <url>`_ or `name`_
            explicit = _TARGET.match(body.strip())
            return self.text(explicit.group("text") if explicit and explicit.group("text") else body)
        if self.default_role:
            return self.role("obj", body)
        return match.group(0)

    def inline(self, text):
        text = _ROLE.sub(lambda m: self.role(m.group("role"), m.group("body")), text)
        text = _LITERAL.sub(lambda m: m.group("body"), text)
        text = _BACKQUOTED.sub(self.backquoted, text)
        text = _STRONG.sub(lambda m: self.text(m.group("body")), text)
        text = _EMPH.sub(lambda m: self.text(m.group("body")), text)
        if self.version:
            text = _SUBSTITUTION.sub(self.version, text)
        return text


def render(source, style=None):
    """Plain text of one page's reStructuredText ``source``."""
    style = style or Style()
    lines = source.replace("\r\n", "\n").split("\n")
    protected = literal_lines(lines)
    out, chunk = [], []

    def flush():
        if chunk:
            out.extend(style.inline("\n".join(chunk)).split("\n"))
            chunk.clear()

    for index, line in enumerate(lines):
        if index in protected or _ADORNMENT.match(line):
            flush()
            out.append(line)
        else:
            chunk.append(line)
    flush()
    text = "\n".join(line.rstrip() for line in out)
    return _BLANK_RUN.sub("\n\n\n", text).strip("\n") + "\n"


_BLANK_RUN = re.compile(r"\n{4,}")  # at most two blank lines in a row
SPHINX_LABELS = {"genindex": "Index", "modindex": "Module Index", "search": "Search Page"}
_HEADING_CHARS = "=-~^\"'`#*+:._"


def titles_of(docs):
    """{doc name or label: title} of a Sphinx ``docs`` tree ({relative path: text}), for ``:doc:``/``:ref:``."""
    titles = dict(SPHINX_LABELS)
    for path, text in docs.items():
        lines = text.split("\n")
        name = path.rsplit(".", 1)[0]
        pending = []
        for i, line in enumerate(lines[:-1]):
            label = re.match(r"^\.\.\s+_([^:]+):\s*$", line)
            if label:
                pending.append(label.group(1))
                continue
            under = lines[i + 1]
            if (
                line.strip()
                and under
                and len(set(under)) == 1
                and under[0] in _HEADING_CHARS
                and len(under) >= len(line.rstrip())
                and not line.startswith(" ")
            ):
                title = Style(joined=True).inline(line.strip())
                titles.setdefault(name, title)
                for label in pending:
                    titles.setdefault(label, title)
                pending = []
            elif line.strip() and not line.startswith(".."):
                pending = []
    return titles


# Releases -------------------------------------------------------------------------------------


def sha256_of(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fetch(release, folder):
    name = f"{release['package']}-{release['version']}.tar.gz"
    path = Path(folder) / name
    if not path.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             f"{release['package']}=={release['version']}", "--dest", str(folder)],
            check=True,
        )  # fmt: skip
    actual = sha256_of(path)
    if actual != release["sha256"]:
        raise SystemExit(f"{path}: SHA-256 {actual}, the manifest names {release['sha256']}")
    return path


def style_of(release, sdist, root):
    if release.get("style", "plain") == "plain":
        return Style()
    docs = {
        name[len(f"{root}/docs/") :]: sdist.extractfile(name).read().decode("utf-8")
        for name in sdist.getnames()
        if name.startswith(f"{root}/docs/") and name.endswith(".rst")
    }
    return Style(joined=True, default_role=True, titles=titles_of(docs), version=release["version"])


def render_release(release, tarball, captures):
    """{file name: text} of ``captures`` (manifest entries) and the licence file, from one sdist."""
    files = {}
    with tarfile.open(tarball) as sdist:
        root = sdist.getnames()[0].split("/")[0]

        def read(member):
            return sdist.extractfile(f"{root}/{member}").read().decode("utf-8")

        style = style_of(release, sdist, root)
        for name, capture in captures.items():
            files[f"{name}.txt"] = render(read(capture["path"]), style)
        stem = release["licence_file"].split(".")[0]
        files[f"licences/{release['package']}-{release['version']}-{stem}.txt"] = read(release["licence_file"])
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdists", help="A folder that holds (or will hold) the source distributions.")
    parser.add_argument("--out", default=str(CAPTURES), help="Where to write the captures.")
    parser.add_argument("--check", action="store_true", help="Write nothing; fail on any difference.")
    args = parser.parse_args(argv)
    manifest = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))
    out = Path(args.out)
    differ = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.sdists or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for key, release in manifest["releases"].items():
            captures = {name: c for name, c in manifest["captures"].items() if c.get("release") == key}
            for name, text in render_release(release, fetch(release, folder), captures).items():
                path = out / name
                if path.exists() and path.read_text(encoding="utf-8") == text:
                    continue
                differ.append(name)
                if not args.check:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(text, encoding="utf-8")
    for name in differ:
        print(f"{'differs' if args.check else 'wrote'}: {name}")
    made = sum("release" in capture for capture in manifest["captures"].values())
    print(f"{made} captures made by releases; {len(differ)} files {'differ' if args.check else 'written'}.")
    return 1 if args.check and differ else 0


if __name__ == "__main__":
    sys.exit(main())
