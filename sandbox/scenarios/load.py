"""YAML -> validated Scenario, keeping line numbers for error messages."""

from __future__ import annotations

import inspect
import os
import re
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from .._errors import ScenarioError
from .fields import MAX_INTERVENTIONS, MAX_NESTING, MAX_SCENARIO_BYTES, MAX_YAML_VALUES, check_limits
from .interventions import INTERVENTION_TYPES
from .spec import Scenario

__all__ = ["load_scenario", "parse_scenario"]

FieldPath = tuple[str | int, ...]
Problem = tuple[int | None, str]  # (1-based line or None for the whole file, "field: what; expected")

_EXPECTED_SCENARIO = "expected a scenario with schema_version: 1, name and interventions"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SEQ_TAG, _MAP_TAG = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_DISCRIMINATOR = "type"


def load_scenario(path: str | Path, *, allow_paths: Sequence[str | Path] = ()) -> Scenario:
    """The scenario in a YAML file, validated; relative paths in it (``area_file``) start at the file's folder.

    Parameters
    ----------
    path
        The scenario file (UTF-8 YAML), at most ``SANDBOX_MAX_SCENARIO_BYTES`` (1 MB) long.
    allow_paths
        Folders besides the scenario's own that the files it names may lie in (``--allow-path``); a file outside
        them all, after following symlinks, is refused.

    Returns
    -------
    Scenario
        With ``base_dir`` (the file's folder, absolute), ``source`` (``path``) and ``allow_paths`` set.

    Raises
    ------
    ScenarioError
        Listing every problem found, one line each: ``<path>:<line>: <field>: <what is wrong>; <expected>``.
    """
    where = str(path)
    check_limits()
    file = Path(path)
    if file.is_dir():
        raise ScenarioError(f"{where}: is a folder; expected a scenario YAML file")
    limit = MAX_SCENARIO_BYTES.value
    try:
        with file.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            raw = b"" if size > limit else stream.read(limit + 1)  # at most the limit, whatever stat said
    except FileNotFoundError:
        raise ScenarioError(f"{where}: file not found; expected a scenario YAML file") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ScenarioError(f"{where}: cannot read the file ({reason}); check that it is a readable file") from None
    if size > limit or len(raw) > limit:
        found = f"{size:,} bytes" if size > limit else f"more than {limit:,} bytes"
        raise ScenarioError(f"{where}: {_too_big(found)}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ScenarioError(f"{where}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") \
            from None
    return parse_scenario(text, source=where, base_dir=file.absolute().parent, allow_paths=allow_paths)


def parse_scenario(text: str, *, source: str | Path = "<string>", base_dir: Path | None = None,
                   allow_paths: Sequence[str | Path] = ()) -> Scenario:
    """The scenario in a YAML text, validated.

    Parameters
    ----------
    text
        The YAML document.
    source
        Where the text came from; starts every problem line and becomes ``Scenario.source``.
    base_dir
        The folder that relative paths (``area_file``) start from; by default the folder of ``source``, or the
        current directory when ``source`` is ``"<string>"``. Files must lie in it (symlinks followed).
    allow_paths
        Other folders that the scenario's files may lie in (``--allow-path``).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        Listing every problem found, one line each: ``<source>:<line>: <field>: <what is wrong>; <expected>``;
        a text beyond a limit (size, nesting, aliases, interventions, vertices) in one line naming the limit and
        the environment variable that raises it.
    """
    where = str(source)
    check_limits()
    is_file = where != "<string>"
    if base_dir is None and is_file:
        base_dir = Path(source).absolute().parent
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SCENARIO_BYTES.value:
        raise ScenarioError(f"{where}: {_too_big(f'{size:,} bytes')}")
    try:
        data, lines, problems = _read_yaml(text.removeprefix("\ufeff"), where)
    except RecursionError:  # only with SANDBOX_MAX_NESTING raised past what Python's stack holds
        raise ScenarioError(f"{where}: " + _too_deep()) from None
    interventions = data.get("interventions")
    if isinstance(interventions, list) and len(interventions) > MAX_INTERVENTIONS.value:
        line = lines.get(("interventions",))
        raise ScenarioError(f"{where}{f':{line}' if line else ''}: interventions: " + MAX_INTERVENTIONS.exceeded(
            f"{len(interventions):,} interventions", "split the scenario into several files"))
    scenario = None
    try:
        scenario = Scenario.model_validate(data, context={
            "base_dir": base_dir, "lines": lines, "source": Path(source) if is_file else None,
            "allow_paths": tuple(Path(p).absolute() for p in allow_paths)})
    except ValidationError as exc:
        problems += [_explain(error, data, lines) for error in exc.errors(include_url=False)]
    except RecursionError:
        problems.append((None, _too_deep()))
    if problems:
        raise ScenarioError(_format(where, problems))
    return scenario


def _too_deep() -> str:
    return MAX_NESTING.exceeded("lists and mappings nested deeper than Python can follow", "nest less")


def _too_big(found: str) -> str:
    return "the file is " + MAX_SCENARIO_BYTES.exceeded(
        found, "put large geometries in an area_file, or split the scenario")


def _format(where: str, problems: list[Problem]) -> list[str]:
    ordered = sorted(problems, key=lambda p: (p[0] is not None, p[0] or 0))  # file-level first, then by line
    out = []
    for line, message in ordered:
        message = " ".join(message.split())  # one line, whatever a validator wrote
        out.append(f"{where}: {message}" if line is None else f"{where}:{line}: {message}")
    return list(dict.fromkeys(out))


# --- YAML with line marks ---------------------------------------------------------------------------------------


def _read_yaml(text: str, where: str) -> tuple[dict[str, Any], dict[FieldPath, int], list[Problem]]:
    """Plain data from the YAML, a map from field paths to lines, and the problems PyYAML would hide.

    libyaml's parser reads it when installed (fast); when that fails, PyYAML's own parser reads it again, so the
    messages of a broken file are PyYAML's, whichever parser is installed.
    """
    if not text.strip():
        raise ScenarioError(f"{where}: the file is empty; {_EXPECTED_SCENARIO}")
    if _FastLoader is not None:
        try:
            return _read_with(_FastLoader, text, where, explain=False)
        except ScenarioError:
            raise
        except Exception:  # noqa: BLE001 - read it again for PyYAML's message (or a ScenarioError of ours)
            pass
    return _read_with(_Loader, text, where)


def _read_with(loader_class: type, text: str, where: str, *, explain: bool = True
               ) -> tuple[dict[str, Any], dict[FieldPath, int], list[Problem]]:
    """Read with one loader; ``explain``: PyYAML's errors as ScenarioError (else raised as they are)."""
    loader = None
    try:
        loader = loader_class(text)  # PyYAML's reader rejects control characters right away
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError(f"{where}: the file holds only comments; {_EXPECTED_SCENARIO}")
        total = _expanded_size(node)
        if total > MAX_YAML_VALUES.value:
            raise ScenarioError(f"{where}: " + MAX_YAML_VALUES.exceeded(
                f"the document holds {total:,} values once its aliases (*name) are expanded",
                "repeat less through aliases"))
        tree = _Tree(loader)
        data = tree.build(node, ())
    except _TooDeep as exc:
        raise ScenarioError(f"{where}:{exc.line}: " + MAX_NESTING.exceeded(
            f"lists and mappings nested {MAX_NESTING.value + 1} levels deep", "nest less")) from None
    except yaml.MarkedYAMLError as exc:
        if not explain:
            raise
        raise ScenarioError(_yaml_problem(exc, text, where)) from None
    except yaml.reader.ReaderError as exc:
        if not explain:
            raise
        line = text[:exc.position].count("\n") + 1
        raise ScenarioError(f"{where}:{line}: unacceptable character #x{exc.character:04x}; remove it "
                            "(YAML allows no control characters)") from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        kind = "empty" if data is None else _show(data)
        raise ScenarioError(f"{where}:{node.start_mark.line + 1}: the top level is {kind}; expected a mapping with "
                            "schema_version: 1, name and interventions")
    return data, tree.lines, tree.problems


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _Bounded(yaml.composer.Composer):
    """PyYAML's composer that refuses lists and mappings nested deeper than :data:`MAX_NESTING` before building
    them (PyYAML composes recursively: a thousand ``[`` would end in a RecursionError)."""

    def __init__(self) -> None:
        yaml.composer.Composer.__init__(self)
        self._depth = 0
        self._max_depth = MAX_NESTING.value

    def _nested(self, compose: Any, anchor: Any) -> yaml.Node:
        self._depth += 1
        try:
            if self._depth > self._max_depth:
                raise _TooDeep(self.peek_event().start_mark.line + 1)
            return compose(self, anchor)
        finally:
            self._depth -= 1

    def compose_sequence_node(self, anchor: Any) -> yaml.Node:
        return self._nested(yaml.composer.Composer.compose_sequence_node, anchor)

    def compose_mapping_node(self, anchor: Any) -> yaml.Node:
        return self._nested(yaml.composer.Composer.compose_mapping_node, anchor)


class _Loader(_Bounded, yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        yaml.SafeLoader.__init__(self, stream)
        _Bounded.__init__(self)


if hasattr(yaml, "CSafeLoader"):
    class _FastLoader(_Bounded, yaml.CSafeLoader):
        """libyaml's scanner and parser (C) under the bounded composer (Python)."""

        def __init__(self, stream: str) -> None:
            yaml.CSafeLoader.__init__(self, stream)
            _Bounded.__init__(self)
else:  # pragma: no cover - PyYAML built without libyaml
    _FastLoader = None


def _expanded_size(root: yaml.Node) -> int:
    """How many values (scalars, lists, mappings) the document holds once every alias is expanded: counted on
    the composed nodes, each once, so that a "billion laughs" file is measured without being built."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise yaml.constructor.ConstructorError(None, None, "an alias refers to itself", node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return 1
        open_.add(key)
        children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
        sizes[key] = total = 1 + sum(size(child) for child in children)
        open_.discard(key)
        return total

    return size(root)


def _yaml_problem(exc: yaml.MarkedYAMLError, text: str, where: str) -> list[str]:
    """PyYAML's error as one line (tabs: every tab-indented line), with the line of its mark."""
    mark = exc.problem_mark or exc.context_mark
    line = None if mark is None else mark.line + 1
    head = f"{where}:{line}" if line else where
    problem = exc.problem or exc.context or "cannot parse"
    if "'\\t'" in problem:
        tabbed = [n for n, row in enumerate(text.splitlines(), 1) if "\t" in row[:len(row) - len(row.lstrip())]]
        lines = sorted(set(tabbed) | ({line} if line else set()))
        return [f"{where}:{n}: a tab character; indent and separate with spaces, YAML does not allow tabs here"
                for n in lines]
    if isinstance(exc, yaml.constructor.ConstructorError):
        return [f"{head}: unsupported YAML: {problem}; use plain values, lists and mappings"]
    if exc.context and problem.startswith("but "):
        problem = f"{exc.context}, {problem}"
    elif exc.context and exc.problem:
        at = f" at line {exc.context_mark.line + 1}" if exc.context_mark is not None else ""
        problem = f"{problem} ({exc.context}{at})"
    return [f"{head}: YAML syntax error: {problem}; check the indentation, colons, brackets and quotes"]


class _Tree:
    """Builds plain data from composed YAML nodes, recording lines and the duplicate keys PyYAML would drop."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.lines: dict[FieldPath, int] = {}
        self.problems: list[Problem] = []
        self._open: set[int] = set()  # nodes being built: an alias back to one of them would recurse forever

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        if not path:
            self.lines[()] = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.loader.construct_object(node, deep=True)
            except yaml.MarkedYAMLError:
                raise
            except Exception as exc:  # e.g. 2024-13-45 resolves to a date that does not exist
                self.problems.append((node.start_mark.line + 1, _at(path, f"cannot read {node.value!r} ({exc}); "
                                                                      "put it in quotes to keep it as text")))
                return node.value
        if node.tag not in (_SEQ_TAG, _MAP_TAG):  # we build lists and mappings ourselves: refuse what we would skip
            raise yaml.constructor.ConstructorError(None, None, f"could not determine a constructor for the tag "
                                                    f"{node.tag!r}", node.start_mark)
        if id(node) in self._open:
            raise yaml.constructor.ConstructorError(None, None, "an alias refers to itself", node.start_mark)
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self._child(item, path + (i,), item) for i, item in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self._open.discard(id(node))

    def _child(self, node: yaml.Node, path: FieldPath, mark_node: yaml.Node, *, merged: bool = False) -> Any:
        if merged:
            self.lines.setdefault(path, mark_node.start_mark.line + 1)
        else:
            self.lines[path] = mark_node.start_mark.line + 1
        return self.build(node, path)

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict[str, Any]:
        explicit = {id(key) for key, _ in node.value if key.tag != _MERGE_TAG}
        self.loader.flatten_mapping(node)  # `<<: *anchor` merges: merged pairs first, explicit keys override them
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                kind = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
                self.problems.append((line, _at(path, f"{kind} cannot be a key; expected a name such as type or "
                                                      "area")))
                continue
            # Keys are names: keep their text (YAML 1.1 would read `yes:` or `on:` as true, `1:` as a number).
            key = key_node.value
            if id(key_node) in explicit:
                if key in first_line:
                    self.problems.append((line, _at(path + (key,), f"duplicate key '{key}' (first on line "
                                                                   f"{first_line[key]}); keep only one")))
                else:
                    first_line[key] = line
            result[key] = self._child(value_node, path + (key,), key_node, merged=id(key_node) not in explicit)
        return result


# --- pydantic's errors in plain words ---------------------------------------------------------------------------


def _explain(error: dict[str, Any], data: dict[str, Any], lines: dict[FieldPath, int]) -> Problem:
    """One pydantic error as (line, "field path: what is wrong; expected ...")."""
    kind, loc, value, ctx = error["type"], tuple(error["loc"]), error.get("input"), error.get("ctx") or {}
    path, target = _resolve(loc)
    line_path = path
    if kind == "missing" and path and isinstance(path[-1], int):  # a fixed-length list, such as at, too short
        path = line_path = path[:-1]
        items = _get(data, path)
        count = len(items) if isinstance(items, list) else 0
        expected = "[longitude, latitude]" if path and path[-1] == "at" else "more items"
        message = f"has {count} item{'' if count == 1 else 's'}; expected {expected}"
    elif kind == "missing":
        line_path, message = path[:-1], "missing; required"
    elif kind == "extra_forbidden":
        _, model = _resolve(loc[:-1])
        message = f"unknown key '{loc[-1]}'; expected one of {', '.join(_field_names(model))}"
    elif kind == "union_tag_invalid":
        path = line_path = path + (_DISCRIMINATOR,)
        tag = _get(data, path)
        message = f"unknown {_show(tag)}; expected one of {', '.join(INTERVENTION_TYPES)}"
    elif kind == "union_tag_not_found":
        message = f"missing '{_DISCRIMINATOR}'; expected one of {', '.join(INTERVENTION_TYPES)}"
    elif kind == "literal_error":
        options = re.findall(r"'([^']*)'", ctx.get("expected", "")) or [str(ctx.get("expected", "?"))]
        if loc and loc[-1] == "[key]":
            message = f"unknown key {_show(value)}; expected one of {', '.join(options)}"
        elif len(options) == 1:
            message = f"{_show(value)} is not supported; expected {options[0]}"
        else:
            message = f"unknown {_show(value)}; expected one of {', '.join(options)}"
    elif kind in ("value_error", "assertion_error"):
        message = re.sub(r"^(Value error|Assertion failed), ", "", error["msg"])
        # A model's own check names the field it is about first ("composition shares ..."): point at that field.
        first = re.match(r"[a-z_][a-z0-9_]*", message)
        if (first and isinstance(target, type) and issubclass(target, BaseModel)
                and first.group() in target.model_fields and isinstance(_get(data, path), dict)
                and first.group() in _get(data, path)):
            path = line_path = path + (first.group(),)
    else:
        message = _type_message(kind, value, ctx, error["msg"], path)
    return _line(lines, line_path), _at(path, message)


def _type_message(kind: str, value: Any, ctx: dict[str, Any], msg: str, path: FieldPath) -> str:
    shown = _show(value)
    if kind in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return f"{shown} is not a whole number; expected an integer such as 3"
    if kind in ("float_type", "float_parsing"):
        return f"{shown} is not a number; expected a number such as 2.5"
    if kind == "finite_number":
        return f"{shown} is not a finite number; expected a number such as 2.5"
    if kind in ("string_type", "string_unicode"):
        return f"{shown} is not text; expected a string (put it in quotes)"
    if kind in ("bool_type", "bool_parsing"):
        return f"{shown} is not true or false; expected true or false"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"{shown} is not a mapping; expected key: value pairs"
    if kind in ("list_type", "tuple_type", "set_type", "iterable_type"):
        expected = "[longitude, latitude]" if path and path[-1] == "at" else "a list such as [a, b]"
        return f"{shown} is not a list; expected {expected}"
    if kind in ("too_short", "too_long"):
        count = ctx.get("actual_length")
        has = f"has {count} item{'' if count == 1 else 's'}" if count is not None else "has the wrong length"
        if path and path[-1] == "at":
            return f"{has}; expected [longitude, latitude]"
        bound = f"at least {ctx.get('min_length')}" if kind == "too_short" else f"at most {ctx.get('max_length')}"
        return f"{has}; expected {bound}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        size = "too small" if kind.startswith("greater") else "too large"
        bound = {"greater_than": f"more than {ctx.get('gt')}", "greater_than_equal": f"{ctx.get('ge')} or more",
                 "less_than": f"less than {ctx.get('lt')}", "less_than_equal": f"at most {ctx.get('le')}"}[kind]
        return f"{shown} is {size}; expected {bound}"
    if kind == "string_pattern_mismatch":
        description = _description(path)
        expected = description.split(";")[0] if description else f"text matching {ctx.get('pattern')}"
        return f"{shown} is not allowed; expected {expected}"
    if kind in ("string_too_short", "string_too_long"):
        bound = ctx.get("min_length") if kind == "string_too_short" else ctx.get("max_length")
        return f"{shown} is too {'short' if kind == 'string_too_short' else 'long'}; expected " \
               f"{'at least' if kind == 'string_too_short' else 'at most'} {bound} characters"
    return f"{shown} is not valid; {msg.replace('Input should be', 'expected').replace('Input', 'the value')}"


def _show(value: Any) -> str:
    """A value as the user wrote it, short: 'abc', 12, true, a list."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def _dotted(path: FieldPath) -> str:
    """('interventions', 0, 'composition') -> 'interventions[0].composition'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _at(path: FieldPath, message: str) -> str:
    """"interventions[0].kind: missing; required" (no field for the whole document)."""
    return f"{_dotted(path)}: {message}" if path else message


def _line(lines: dict[FieldPath, int], path: FieldPath) -> int | None:
    """The line of the field, else of the nearest enclosing one that the file has."""
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path)


def _get(data: Any, path: FieldPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


# --- where a pydantic location is in the schema -----------------------------------------------------------------


def _resolve(loc: tuple[Any, ...]) -> tuple[FieldPath, Any]:
    """Pydantic's location -> (the path in the file, the schema type there).

    The path drops what is not in the file: the union's tag (``('interventions', 1, 'add_park', 'area')``) and
    pydantic's ``'[key]'`` marker for errors in a mapping's keys.
    """
    path: list[str | int] = []
    hint: Any = Scenario
    for i, part in enumerate(loc):
        hint = _unwrap(hint)
        if part == "[key]":
            continue
        if isinstance(part, str) and (_is_union(hint) or (hint is None and part in INTERVENTION_TYPES
                                                          and i and isinstance(loc[i - 1], int))):
            hint = _member(hint, part)
            continue
        path.append(part)
        hint = _child_hint(hint, part)
    return tuple(path), _unwrap(hint)


def _unwrap(hint: Any) -> Any:
    while True:
        if get_origin(hint) is Annotated:
            hint = get_args(hint)[0]
        elif _is_union(hint) and type(None) in get_args(hint):
            rest = [a for a in get_args(hint) if a is not type(None)]
            hint = rest[0] if len(rest) == 1 else Union[tuple(rest)]
        else:
            return hint


def _is_union(hint: Any) -> bool:
    return get_origin(hint) in (Union, types.UnionType)


def _is_model(hint: Any) -> bool:
    return inspect.isclass(hint) and issubclass(hint, BaseModel)


def _member(union: Any, tag: str) -> Any:
    for member in get_args(union) if _is_union(union) else ():
        if _is_model(member) and _DISCRIMINATOR in member.model_fields \
                and tag in get_args(member.model_fields[_DISCRIMINATOR].annotation):
            return member
    return None


def _child_hint(hint: Any, part: str | int) -> Any:
    if _is_model(hint):
        field = hint.model_fields.get(part) if isinstance(part, str) else None
        return None if field is None else field.annotation
    origin, args = get_origin(hint), get_args(hint)
    if origin in (list, set, frozenset) and args:
        return args[0]
    if origin is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        return args[part] if isinstance(part, int) and part < len(args) else None
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _field_names(model: Any) -> list[str]:
    """The keys a model accepts, its discriminator first."""
    if not _is_model(model):
        return []
    names = list(model.model_fields)
    return sorted(names, key=lambda name: name != _DISCRIMINATOR)


def _description(path: FieldPath) -> str | None:
    """The schema's description of the field at a path in the file (the path has no union tags)."""
    hint: Any = Scenario
    for part in path[:-1]:
        hint = _unwrap(_child_hint(_unwrap(hint), part))
    hint = _unwrap(hint)
    if _is_model(hint) and isinstance(path[-1], str) and path[-1] in hint.model_fields:
        return hint.model_fields[path[-1]].description
    return None
