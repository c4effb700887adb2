"""Command-line flags for a settings tree (mer_tfx/settings.py): one flag per setting,
derived from its declaration, and the settings the given flags make.

Defaults are never filled in by argparse: only flags given on the command line
override the base settings (the defaults, or what ``from_env`` read), so a flag, a
``MER_*`` variable and ``settings.json`` can be layered.
"""
from __future__ import annotations

import argparse
import dataclasses

from mer_tfx.settings import check, leaves, parse_text, with_values

DEST = "setting:"


def _matches(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def add_arguments(parser, cls, include=None, exclude=(), required=()) -> None:
    """Flags for the settings of ``cls``, one argument group per section.

    ``include``/``exclude``: dotted names or section names (``"kubeflow"``,
    ``"ingest.crop_size"``). Defaults are suppressed: only flags given on the command
    line override the base settings (defaults, or what ``from_env`` read). ``required``
    names settings whose flag must be given.
    """
    groups = {}
    for leaf in leaves(cls):
        if not leaf.meta.get("cli", True):
            continue
        if (include is not None and not _matches(leaf.name, include)) or \
                _matches(leaf.name, exclude):
            continue
        top = leaf.path[0] if len(leaf.path) > 1 else ""
        if top not in groups:
            groups[top] = parser.add_argument_group(f"{top} settings" if top else "settings")
        group = groups[top]
        help_text = leaf.meta.get("help", "")
        default = leaf.field.default
        if default not in (None, (), dataclasses.MISSING) and leaf.kind is not bool:
            shown = ",".join(default) if isinstance(default, tuple) else default
            help_text += f" (default {shown})"
        kwargs = {"dest": DEST + leaf.name, "default": argparse.SUPPRESS, "help": help_text}
        if leaf.kind is bool:
            group.add_argument(*leaf.flags, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if leaf.kind is tuple and leaf.meta.get("row"):  # repeatable, one row each
            kwargs.update(action="append", nargs="+", metavar=leaf.meta["row"][0])
            kwargs["help"] += f" ({' '.join(leaf.meta['row'])}; repeatable)"
            group.add_argument(*leaf.flags, type=str, **kwargs)
            continue
        if leaf.kind is tuple:  # repeatable, each occurrence comma-separated
            kwargs["action"] = "append"
        if leaf.meta.get("choices"):
            kwargs["choices"] = list(leaf.meta["choices"])
        kwargs["metavar"] = leaf.key.upper() if not kwargs.get("choices") else None
        if leaf.name in required:
            kwargs["required"] = True
        group.add_argument(*leaf.flags, type=str, **kwargs)


def from_args(cls, args: argparse.Namespace, base=None):
    """``base`` (default: the defaults) with every settings flag given in ``args`` applied."""
    by_name = {leaf.name: leaf for leaf in leaves(cls)}
    overrides = {}
    for dest, value in vars(args).items():
        if not dest.startswith(DEST):
            continue
        leaf = by_name[dest[len(DEST):]]
        if leaf.kind is bool:
            overrides[leaf.name] = value
        elif leaf.kind is tuple and leaf.meta.get("row"):
            overrides[leaf.name] = check(leaf, value)
        elif leaf.kind is tuple:
            overrides[leaf.name] = tuple(v for text in value for v in parse_text(leaf, text))
        else:
            overrides[leaf.name] = parse_text(leaf, value)
    return with_values(base if base is not None else cls(), overrides)
