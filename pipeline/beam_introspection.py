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


def _remember_function_arguments() -> None:
    from apache_beam.transforms import core

    inspect_arguments = core.get_function_args_defaults
    if getattr(inspect_arguments, MARK, False):
        return
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

    setattr(function_args_defaults, MARK, True)
    function_args_defaults.__doc__ = inspect_arguments.__doc__
    function_args_defaults.__wrapped__ = inspect_arguments  # Beam's own
    core.get_function_args_defaults = function_args_defaults


def _remember_option_views() -> None:
    from apache_beam.options.pipeline_options import PipelineOptions

    make_view = PipelineOptions.view_as
    if getattr(make_view, MARK, False):
        return
    views = weakref.WeakKeyDictionary()

    def view_as(self, cls):
        made = views.setdefault(self, {})
        if cls not in made:
            made[cls] = make_view(self, cls)
        return made[cls]

    setattr(view_as, MARK, True)
    view_as.__doc__ = make_view.__doc__
    view_as.__wrapped__ = make_view  # Beam's own
    PipelineOptions.view_as = view_as


def remember_beam_introspection() -> None:
    """Install both (once per process; the local runner does, before its jobs)."""
    _remember_function_arguments()
    _remember_option_views()
