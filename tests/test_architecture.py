"""The layout of kb/: subpackages that import each other without a circle, and no import hidden in a function.

Read from the source with ``ast`` (nothing is imported), so a circle held apart by an import inside a
function is found as well as one at module level. Django's own loading hooks are the one exception:
``AppConfig.ready`` imports the modules that connect signals and register checks once models exist.
"""

import ast
import re
from pathlib import Path

from django.conf import settings

KB = Path(settings.BASE_DIR) / "kb"
# Where Django asks for imports at app-loading time, not to dodge a circle.
LOADING_HOOKS = {("kb.apps", "ready")}


def module_name(path):
    parts = path.relative_to(KB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def kb_modules():
    return {module_name(path): path for path in KB.rglob("*.py") if "migrations" not in path.parts}


MODULES = kb_modules()


def targets(node, package):
    """The kb modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
        names = [base] + [f"{base}.{alias.name}" for alias in node.names]
    return {name for name in names if name in MODULES}


def imports_of(name, path):
    """(module-level targets, [(function, targets)] of imports inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top, nested = set(), []

    def visit(node, function=None):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, function or child.name)
            elif isinstance(child, ast.Import | ast.ImportFrom):
                found = targets(child, package) - {name}
                if function is None:
                    top.update(found)
                elif found:
                    nested.append((function, found))
            else:
                visit(child, function)

    visit(tree)
    return top, nested


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_kb_has_no_import_circle():
    graph = {name: top | {t for _, ts in nested for t in ts} for name, (top, nested) in GRAPH.items()}
    assert cycles(graph) == []


def test_no_kb_import_hides_in_a_function():
    hidden = [
        f"{name}.{function} imports {', '.join(sorted(found))}"
        for name, (_, nested) in GRAPH.items()
        for function, found in nested
        if (name, function) not in LOADING_HOOKS
    ]
    assert hidden == []


def test_the_cycle_finder_finds_a_planted_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_layout_is_subpackages():
    """kb/ holds Django's entry points and the subpackages; every other module lives in a subpackage."""
    top_level = {path.name for path in KB.glob("*.py")}
    assert top_level <= {
        "__init__.py",
        "apps.py",
        "settings.py",
        "urls.py",
        "wsgi.py",
        "asgi.py",
        "models.py",
        "admin.py",
    }


def test_every_system_check_has_its_own_id():
    """Two unrelated checks never share an id (silencing one would silence the other)."""
    ids = [match for path in MODULES.values() for match in re.findall(r'id="(kb\.[A-Z]\d{3})"', path.read_text())]
    assert ids and len(ids) == len(set(ids)), ids
