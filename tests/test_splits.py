import pytest

from mer_tfx.errors import UserError
from mer_tfx.ingestion.splits import assign_subject_splits

SUBJECTS = [f"sub{i:02d}" for i in range(1, 13)]


def test_fraction_split_is_deterministic_balanced_and_subject_level():
    first = assign_subject_splits(SUBJECTS * 3, eval_fraction=0.25, seed=7)
    again = assign_subject_splits(list(reversed(SUBJECTS)), eval_fraction=0.25, seed=7)
    assert first == again
    assert sorted(first) == SUBJECTS
    assert list(first.values()).count("eval") == 3
    other_seed = assign_subject_splits(SUBJECTS, eval_fraction=0.25, seed=8)
    assert other_seed != first


def test_explicit_eval_subjects():
    split = assign_subject_splits(SUBJECTS, eval_subjects=["sub03", "sub07"])
    assert {s for s, v in split.items() if v == "eval"} == {"sub03", "sub07"}


@pytest.mark.parametrize("kwargs, message", [
    ({"eval_subjects": ["sub99"]}, "not in the data"),
    ({"eval_subjects": SUBJECTS}, "nothing left to train"),
    ({"eval_fraction": 1.5}, "between 0 and 1"),
])
def test_bad_split_requests_say_what_to_fix(kwargs, message):
    with pytest.raises(UserError, match=message):
        assign_subject_splits(SUBJECTS, **kwargs)


def test_one_subject_cannot_be_split():
    with pytest.raises(UserError, match="at least 2 subjects"):
        assign_subject_splits(["only"])


def test_small_sets_keep_both_sides_non_empty():
    split = assign_subject_splits(["a", "b"], eval_fraction=0.9)
    assert sorted(split.values()) == ["eval", "train"]
