"""Beam's introspection, remembered: function arguments give the same answers as Beam's
own for every kind of callable, state and timers are still found, option views behave
as new views do, a stateful job still runs."""
import functools
import pickle

import apache_beam as beam
import pytest
from apache_beam.coders import VarIntCoder
from apache_beam.options.pipeline_options import (DirectOptions, PipelineOptions,
                                                  StandardOptions)
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import core, userstate

from mer_tfx.pipeline.beam_args import with_local_runner
from mer_tfx.pipeline.beam_introspection import remember_beam_introspection

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
    """Beam's own function-argument introspection; the remembered one installed over it
    (an earlier test's pipeline run may have installed it: its ``__wrapped__`` is Beam's)."""
    original = getattr(core.get_function_args_defaults, "__wrapped__",
                       core.get_function_args_defaults)
    monkeypatch.setattr(core, "get_function_args_defaults", original)
    monkeypatch.setattr(PipelineOptions, "view_as",
                        getattr(PipelineOptions.view_as, "__wrapped__", PipelineOptions.view_as))
    remember_beam_introspection()
    installed = (core.get_function_args_defaults, PipelineOptions.view_as)
    remember_beam_introspection()  # twice: still one wrapper around Beam's own
    assert (core.get_function_args_defaults, PipelineOptions.view_as) == installed
    assert installed[0] is not original
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


def test_an_option_view_answers_and_changes_what_a_new_view_would(remembered):
    options = PipelineOptions(["--direct_num_workers=3", "--runner=FnApiRunner"])
    assert options.view_as(DirectOptions).direct_num_workers == 3
    assert options.view_as(DirectOptions) is options.view_as(DirectOptions)  # remembered
    options.view_as(StandardOptions).runner = "DirectRunner"
    assert options.view_as(StandardOptions).runner == "DirectRunner"
    assert options.get_all_options()["runner"] == "DirectRunner"
    # another options object has views of its own
    other = PipelineOptions(["--direct_num_workers=5"])
    assert other.view_as(DirectOptions).direct_num_workers == 5
    assert options.view_as(DirectOptions).direct_num_workers == 3
    # pickled, an options object carries its values and none of the remembered views
    copied = pickle.loads(pickle.dumps(options))
    assert copied.view_as(StandardOptions).runner == "DirectRunner"
    assert copied.view_as(DirectOptions).direct_num_workers == 3
    assert "views" not in str(vars(options))
    with pytest.raises(AttributeError):  # as Beam's own views: no attribute of their own
        options.view_as(DirectOptions).not_an_option = 1
