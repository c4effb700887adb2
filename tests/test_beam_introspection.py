"""Beam's argument introspection, remembered per function: the same answers as Beam's
own for every kind of callable, state and timers still found, a stateful job still runs."""
import functools

import apache_beam as beam
import pytest
from apache_beam.coders import VarIntCoder
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import core, userstate

from mer_tfx.pipeline.beam_args import with_local_runner
from mer_tfx.pipeline.beam_introspection import remember_beam_function_arguments

COUNT = userstate.ReadModifyWriteStateSpec("count", VarIntCoder())


class Counting(beam.DoFn):
    """A stateful DoFn: the running count of each key."""

    def process(self, element, count=beam.DoFn.StateParam(COUNT)):
        seen = (count.read() or 0) + 1
        count.write(seen)
        yield element[0], seen


class Plain(beam.DoFn):
    def process(self, element, scale=2, *rest, side=None):
        yield element * scale


def free(a, b=3, *args, c=4, **kwargs):
    return a


class Called:
    def __call__(self, x, y=1):
        return x


@pytest.fixture()
def remembered(monkeypatch):
    # Beam's own, also where an earlier test's pipeline run installed the wrapper
    original = getattr(core.get_function_args_defaults, "__wrapped__",
                       core.get_function_args_defaults)
    monkeypatch.setattr(core, "get_function_args_defaults", original)
    remember_beam_function_arguments()
    installed = core.get_function_args_defaults
    remember_beam_function_arguments()  # twice: still one wrapper around Beam's own
    assert core.get_function_args_defaults is installed is not original
    return original


@pytest.mark.parametrize("make", [
    lambda: Counting().process, lambda: Plain().process, lambda: free,
    lambda: (lambda x, y=5: x), lambda: functools.partial(free, 1), lambda: Called(),
    lambda: len, lambda: Plain().start_bundle,
], ids=["stateful-method", "method", "function", "lambda", "partial", "callable-object",
        "builtin", "inherited-method"])
def test_answers_equal_beams_own_every_time(remembered, make):
    expected = remembered(make())
    for _ in range(3):
        assert core.get_function_args_defaults(make()) == expected


def test_a_caller_changing_its_lists_changes_no_later_answer(remembered):
    args, defaults = core.get_function_args_defaults(Plain().process)
    args.append("x")
    defaults.clear()
    assert core.get_function_args_defaults(Plain().process) == remembered(Plain().process)


def test_state_is_still_found_and_a_stateful_job_still_runs(remembered):
    assert userstate.is_stateful_dofn(Counting())
    assert not userstate.is_stateful_dofn(Plain())
    with beam.Pipeline(argv=with_local_runner([])) as pipeline:
        counts = (pipeline | beam.Create([("a", 0), ("b", 0), ("a", 0)])
                  | beam.ParDo(Counting()))
        assert_that(counts, equal_to([("a", 1), ("a", 2), ("b", 1)]))
