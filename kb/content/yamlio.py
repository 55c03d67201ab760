"""Reading content files with line numbers, and writing them in one canonical form."""

import yaml


class ContentError(Exception):
    """A problem in a content file, located by file and line."""

    def __init__(self, path, line, message):
        self.path = path
        self.line = line
        self.message = message
        location = f"{path}:{line}" if line else str(path)
        super().__init__(f"{location}: {message}")


MAX_DEPTH = 20  # content files nest four levels; anything deeper is a mistake or an attack


def _check_events(text, label):
    """Refuse anchors, aliases and deep nesting before anything is built (YAML bombs, stack overflows).

    The event stream comes from libyaml without recursion, so this is cheap and safe.
    """
    depth = 0
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise ContentError(
                label, event.start_mark.line + 1, "anchors and aliases (&name, *name) are not allowed in content files"
            )
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ContentError(label, event.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


class Record(dict):
    """A YAML mapping that remembers the line it starts on."""

    line = 0


class _LineLoader(yaml.CSafeLoader):
    path = ""


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    record = Record()
    record.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in record:
            raise ContentError(loader.path, key_node.start_mark.line + 1, f"duplicate key {key!r}")
        record[key] = loader.construct_object(value_node, deep=True)
    return record


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _syntax_error(error, label):
    mark = error.problem_mark or error.context_mark
    problem = " ".join(part for part in (error.context, error.problem) if part)
    return ContentError(label, mark.line + 1 if mark else 0, f"YAML syntax error: {problem}")


def read_yaml(path, label=None):
    """Parse one file; syntax errors become ContentErrors naming the file and line."""
    label = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ContentError(label, 0, f"not UTF-8 text ({error.reason})") from error
    try:
        _check_events(text, label)
    except yaml.MarkedYAMLError as error:
        raise _syntax_error(error, label) from error
    except yaml.YAMLError as error:  # e.g. a reader error: a character YAML does not allow
        line = text.count("\n", 0, getattr(error, "position", 0)) + 1
        raise ContentError(label, line, f"YAML error: {error}") from error
    loader = _LineLoader(text)
    loader.path = label
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        raise _syntax_error(error, label) from error
    except yaml.YAMLError as error:
        raise ContentError(label, 0, f"YAML error: {error}") from error
    finally:
        loader.dispose()


class _CanonicalDumper(yaml.CSafeDumper):
    def ignore_aliases(self, data):
        return True  # exported files never contain anchors (the reader refuses them)


def _represent_str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_CanonicalDumper.add_representer(str, _represent_str)
_CanonicalDumper.add_representer(Record, _CanonicalDumper.represent_dict)


def dump_yaml(data):
    """The one canonical text for ``data``: keys in the order given, literal blocks for multi-line text."""
    return yaml.dump(
        data,
        Dumper=_CanonicalDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
