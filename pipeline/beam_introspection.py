"""Beam's introspection while it builds a job, remembered: function arguments per
function, option views per options object and view class.

Building and starting a Beam job
- inspects the signature of every method of every DoFn several times over
  (``apache_beam.transforms.core.get_function_args_defaults``, through
  ``inspect.signature``): about 25,000 signatures for one fold's TFMA job, 24,000 for
  its Transform job, though these jobs have about a hundred DoFns;
- builds a new view of its pipeline options for every transform it applies
  (``PipelineOptions.view_as``), each view parsing all the job's flags again with a
  fresh argparse parser: about 800 parses for one fold's TFMA job.
Beam's authors measured both (apache/beam#9925, "memoize expensive introspection
functions", closed unmerged). bench/fold_executors.py measures what remembering them
saves a fold.

Why the answers can be remembered:
- a function's arguments and defaults depend only on the function (for a bound method:
  on its ``__func__``, as ``inspect.signature`` itself does). They are remembered per
  function object, weakly, and every caller gets its own lists; callables of other
  kinds (partials, builtins, callable objects) are inspected every time, as before;
- a view holds nothing of its own: every option value lives in the ``_all_options``
  dict it shares with its options object (only ``__init__`` and ``view_as`` assign
  that dict, and a view refuses any other attribute), so the view made the first time
  answers and changes exactly what a new one would. Views are remembered per options
  object, weakly, outside the object (nothing changes what pickling it writes).
"""
from __future__ import annotations

import types
import weakref

MARK = "mer_tfx_remembers"


def _function_and_binding(f):
    """(plain function, bound?) for a function or a method bound to one; else None."""
    if isinstance(f, types.MethodType) and isinstance(f.__func__, types.FunctionType):
        return f.__func__, True
    if isinstance(f, types.FunctionType):
        return f, False
    return None


def _replace_once(owner, name: str, remembering) -> None:
    """Replace ``owner.name`` by ``remembering(own)`` unless already replaced; the
    replacement keeps Beam's ``own`` as ``__wrapped__`` and its docstring."""
    own = getattr(owner, name)
    if getattr(own, MARK, False):
        return
    replacement = remembering(own)
    setattr(replacement, MARK, True)
    replacement.__doc__ = own.__doc__
    replacement.__wrapped__ = own  # Beam's own
    setattr(owner, name, replacement)


def _remembering_function_arguments(inspect_arguments):
    known = weakref.WeakKeyDictionary()

    def function_args_defaults(f):
        key = _function_and_binding(f)
        if key is None:
            return inspect_arguments(f)
        function, bound = key
        answers = known.setdefault(function, {})
        if bound not in answers:
            answers[bound] = inspect_arguments(f)
        args, defaults = answers[bound]
        return list(args), list(defaults)

    return function_args_defaults


def _remembering_option_views(make_view):
    views = weakref.WeakKeyDictionary()

    def view_as(self, cls):
        made = views.setdefault(self, {})
        if cls not in made:
            made[cls] = make_view(self, cls)
        return made[cls]

    return view_as


def remember_beam_introspection() -> None:
    """Install both (once per process; the local runner does, before its jobs)."""
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.transforms import core

    _replace_once(core, "get_function_args_defaults", _remembering_function_arguments)
    _replace_once(PipelineOptions, "view_as", _remembering_option_views)
