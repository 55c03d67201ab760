"""The markup of a cell and of a citation exists once, in the (autoescaped) templates, not in Python strings."""

import ast
from pathlib import Path

import pytest

KB = Path(__file__).resolve().parent.parent / "kb"
FORBIDDEN = ("<td", "<figure", "<blockquote")


def string_literals(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


@pytest.mark.parametrize("path", sorted(KB.glob("*.py")), ids=lambda path: path.name)
def test_no_cell_or_citation_markup_in_python(path):
    found = [
        f"{path.name}:{line}: {tag}" for line, text in string_literals(path) for tag in FORBIDDEN if tag in text.lower()
    ]
    assert not found, found


def test_the_check_sees_f_string_markup(tmp_path):
    """f-strings are JoinedStr nodes whose literal parts are Constants: the walk above finds them."""
    sample = tmp_path / "sample.py"
    sample.write_text('name = "x"\nhtml = f\'<td id="{name}">\'\n', encoding="utf-8")
    assert [text for _line, text in string_literals(sample) if "<td" in text]
