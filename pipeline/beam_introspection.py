"""Beam's argument introspection, remembered per function.

Building and starting a Beam job inspects the signature of every method of every DoFn
several times over (``apache_beam.transforms.core.get_function_args_defaults``, through
``inspect.signature``): about 25,000 signatures for one fold's TFMA job, 24,000 for its
Transform job, though these jobs have about a hundred DoFns. Beam's authors measured
the same (apache/beam#9925, "memoize expensive introspection functions", closed
unmerged). Remembered per function, a fold's Evaluator took 0.4 s and its Transform
0.5 s less (bench/fold_executors.py).

What a function's arguments and defaults are depends only on the function (for a
bound method: on its ``__func__``, as ``inspect.signature`` itself does), so the
answer is remembered per function object, weakly (no function is kept alive by it),
and every caller gets its own lists. Callables of other kinds (partials, builtins,
callable objects) are inspected every time, as before.
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


def remember_beam_function_arguments() -> None:
    """Install the remembered ``get_function_args_defaults`` (once per process)."""
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
