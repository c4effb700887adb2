"""A typed settings tree: each setting declared once, everything else derived from it.

A settings class is a frozen dataclass whose fields are either sections (another
settings dataclass) or settings declared with :func:`option` (default, help, checks).
From that one declaration this module derives:

- command-line flags (``--learning-rate``; ``--augment/--no-augment`` for booleans;
  comma-separated lists; aliases for old spellings): settings_flags.py,
- ``MER_*`` environment variables (``MER_LEARNING_RATE``) for the tfx CLI runner,
- nested dicts (``to_dict``/``from_dict``) for ``settings.json`` and TFX ``custom_config``.

Unknown keys, unknown ``MER_*`` variables, bad types and out-of-range values raise
:class:`SettingsError`, naming the setting and, for a typo, the nearest known name.
Adding a setting is adding one field.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import types
import typing

from mer_tfx.errors import UserError

ENV_PREFIX = "MER_"
# MER_* variables that are not settings (read elsewhere).
OTHER_VARIABLES = ("MER_VERBOSE",)


class SettingsError(UserError, ValueError):
    """A setting is unknown, of the wrong type or out of range; the message names it."""


def option(default, help: str, *, choices=None, minimum=None, maximum=None, aliases=(),
           flag: str | None = None, env: bool = True, cli: bool = True, row=None):
    """A setting: its default, one line of help, and the checks its values must pass.

    ``row=("NAME", ...)`` makes a list setting a list of rows of strings (one flag
    occurrence per row, e.g. ``--source casme2 ROOT ANNOTATIONS``); trailing names in
    brackets are optional: ``("DATASET", "ROOT", "[ANNOTATIONS]")``.
    """
    return dataclasses.field(default=default, metadata={
        "help": help, "choices": tuple(choices) if choices else None, "minimum": minimum,
        "maximum": maximum, "aliases": tuple(aliases), "flag": flag, "env": env, "cli": cli,
        "row": tuple(row) if row else None})


@dataclasses.dataclass(frozen=True)
class Leaf:
    """One setting of a tree: where it sits and how it is spelled everywhere."""

    path: tuple  # ("trainer", "learning_rate")
    field: dataclasses.Field
    kind: type  # int, float, str, bool or tuple (a list of strings)
    optional: bool

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def key(self) -> str:
        return self.path[-1]

    @property
    def meta(self) -> dict:
        return self.field.metadata

    @property
    def flag(self) -> str:
        return "--" + (self.meta.get("flag") or self.key).replace("_", "-")

    @property
    def flags(self) -> list:
        return [self.flag] + ["--" + a.replace("_", "-") for a in self.meta.get("aliases", ())]

    @property
    def env(self) -> str:
        return ENV_PREFIX + (self.meta.get("flag") or self.key).upper().replace("-", "_")

    @property
    def envs(self) -> list:
        return [self.env] + [ENV_PREFIX + a.upper() for a in self.meta.get("aliases", ())]


def _kind(annotation):
    """(kind, optional) of a field annotation: int, float, str, bool, tuple (+ None)."""
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        annotation = members[0]
    annotation = typing.get_origin(annotation) or annotation
    if annotation in (list, tuple):
        annotation = tuple
    if annotation not in (int, float, str, bool, tuple):
        raise TypeError(f"unsupported setting type {annotation!r}")
    return annotation, optional


def is_section(cls) -> bool:
    return dataclasses.is_dataclass(cls) and isinstance(cls, type)


@functools.lru_cache(maxsize=None)
def leaves(cls, prefix: tuple = ()) -> tuple:
    """Every setting of a settings class, depth first, in declaration order."""
    hints = typing.get_type_hints(cls)
    found = []
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if is_section(hint):
            found.extend(leaves(hint, prefix + (field.name,)))
        else:
            kind, optional = _kind(hint)
            found.append(Leaf(prefix + (field.name,), field, kind, optional))
    return tuple(found)


def validate(section) -> None:
    """Checks (and normalises, e.g. list -> tuple) the own settings of one section.

    Called from each section's ``__post_init__``, so a section built directly in code
    is held to the same types and ranges as one read from flags or files.
    """
    for leaf in leaves(type(section)):
        if len(leaf.path) == 1:
            value = getattr(section, leaf.key)
            checked = check(leaf, value)
            if checked is not value:
                object.__setattr__(section, leaf.key, checked)


def _nearest(name: str, known) -> str:
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else ""


def check(leaf: Leaf, value):
    """``value`` converted to the setting's type, or SettingsError naming the setting."""
    if value is None:
        if leaf.optional:
            return None
        raise SettingsError(f"setting {leaf.name} may not be empty")
    kind = leaf.kind
    try:
        if kind is bool:
            if not isinstance(value, bool):
                raise TypeError
        elif kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            value = int(value)
        elif kind is float:
            if isinstance(value, bool):
                raise TypeError
            value = float(value)
        elif kind is str:
            if not isinstance(value, str):
                raise TypeError
        elif leaf.meta.get("row"):
            value = tuple(_row(leaf, row) for row in value)
        else:
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise TypeError
            value = tuple(value)
    except (TypeError, ValueError):
        expected = ("a list of strings" if kind is tuple else kind.__name__)
        if leaf.meta.get("row"):
            expected = f"a list of rows [{', '.join(leaf.meta['row'])}]"
        raise SettingsError(f"setting {leaf.name} must be {expected}, got {value!r}") from None
    meta = leaf.meta
    if meta.get("choices") and value not in meta["choices"]:
        raise SettingsError(f"setting {leaf.name} must be one of {list(meta['choices'])}, "
                            f"got {value!r}")
    if meta.get("minimum") is not None and value < meta["minimum"]:
        raise SettingsError(f"setting {leaf.name} must be >= {meta['minimum']}, got {value!r}")
    if meta.get("maximum") is not None and value > meta["maximum"]:
        raise SettingsError(f"setting {leaf.name} must be <= {meta['maximum']}, got {value!r}")
    return value


def _row(leaf: Leaf, row) -> tuple:
    """One row of a row-list setting: strings, as many as its declared names allow."""
    names = leaf.meta["row"]
    required = sum(1 for n in names if not n.startswith("["))
    if isinstance(row, str) or not all(isinstance(v, str) for v in row) or \
            not required <= len(row) <= len(names):
        raise TypeError
    return tuple(row)


def parse_text(leaf: Leaf, text: str):
    """A setting's value from a flag or environment string (lists: comma-separated or JSON)."""
    text = text.strip()
    if leaf.optional and text in ("", "none", "None"):
        return None
    try:
        if leaf.kind is bool:
            lowered = text.lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError
            value = lowered in ("1", "true", "yes")
        elif leaf.kind is tuple and leaf.meta.get("row"):
            value = json.loads(text)  # rows: a JSON list of lists
        elif leaf.kind is tuple:
            # a JSON list, one JSON object (a toleration), or comma-separated values
            if text.startswith("["):
                value = json.loads(text)
            elif text.startswith("{"):
                value = [text]
            else:
                value = [v.strip() for v in text.split(",") if v.strip()]
        else:
            value = leaf.kind(text)
    except ValueError:  # json.JSONDecodeError is one
        raise SettingsError(f"setting {leaf.name}: cannot read {text!r} as "
                            f"{'a list' if leaf.kind is tuple else leaf.kind.__name__}") from None
    return check(leaf, value)


def _build(cls, values: dict, prefix: tuple):
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        where = ".".join(prefix) or "the settings"
        raise SettingsError(f"unknown setting {'.'.join(prefix + (unknown[0],))} in {where}"
                            f"{_nearest(unknown[0], fields)}")
    kwargs = {}
    for name, field in fields.items():
        hint = hints[name]
        if is_section(hint):
            section = values.get(name, {})
            if not isinstance(section, dict):
                raise SettingsError(f"setting section {'.'.join(prefix + (name,))} must be a "
                                    f"mapping, got {section!r}")
            kwargs[name] = _build(hint, section, prefix + (name,))
        elif name in values:
            kind, optional = _kind(hint)
            kwargs[name] = check(Leaf(prefix + (name,), field, kind, optional), values[name])
    try:
        return cls(**kwargs)
    except SettingsError:
        raise
    except ValueError as error:  # a section's own cross-field checks
        raise SettingsError(f"settings {'.'.join(prefix) or ''}: {error}") from None


def from_dict(cls, values: dict | None = None):
    """A settings tree from a nested dict (``settings.json``); missing keys take defaults."""
    return _build(cls, dict(values or {}), ())


def to_dict(settings) -> dict:
    """The nested dict of a settings tree (lists as lists): JSON-ready."""
    out = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        out[field.name] = (to_dict(value) if dataclasses.is_dataclass(value)
                           else _plain(value))
    return out


def _plain(value):
    """Tuples (and tuples of rows) as JSON-ready lists."""
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


def with_values(settings, values: dict):
    """A copy with dotted-name overrides: ``with_values(s, {"trainer.seed": 3})``."""
    tree = to_dict(settings)
    for dotted, value in values.items():
        node = tree
        *sections, key = dotted.split(".")
        for section in sections:
            if section not in node or not isinstance(node[section], dict):
                raise SettingsError(f"unknown setting section {section!r} in {dotted}")
            node = node[section]
        if key not in node:
            raise SettingsError(f"unknown setting {dotted}{_nearest(key, node)}")
        node[key] = _plain(value)
    return from_dict(type(settings), tree)


def from_env(cls, environ, base=None):
    """``base`` (default: the defaults) with ``MER_*`` variables applied; unknown ones fail."""
    by_env = {}
    for leaf in leaves(cls):
        if leaf.meta.get("env", True):
            for name in leaf.envs:
                by_env[name] = leaf
    overrides = {}
    for name, text in environ.items():
        if not name.startswith(ENV_PREFIX) or name in OTHER_VARIABLES:
            continue
        leaf = by_env.get(name)
        if leaf is None:
            raise SettingsError(f"unknown setting variable {name}{_nearest(name, by_env)}")
        overrides[leaf.name] = parse_text(leaf, text)
    return with_values(base if base is not None else cls(), overrides)


def to_env(settings) -> dict:
    """The ``MER_*`` variables that make ``from_env`` give back these settings."""
    env = {}
    flat = {leaf.name: leaf for leaf in leaves(type(settings))}
    values = _flatten(to_dict(settings))
    for name, value in values.items():
        leaf = flat[name]
        if not leaf.meta.get("env", True):
            continue
        if value is None:
            env[leaf.env] = ""
        elif isinstance(value, (bool, list)):
            env[leaf.env] = json.dumps(value)
        else:
            env[leaf.env] = str(value)
    return env


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out
