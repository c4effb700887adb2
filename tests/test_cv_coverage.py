"""Folds from the subjects the conversion gave clips; the others listed with their reasons."""
import json

import pytest

from mer_tfx.errors import UserError
from mer_tfx.ingestion.clips import ClipSpec, Reject
from mer_tfx.protocols.coverage import coverage, read_rejects, without_clips_note
from mer_tfx.protocols.cross_validation import protocol_folds


def _spec(row, dataset, subject, clip):
    return ClipSpec(row=row, dataset=dataset, subject=subject, clip=clip, clip_dir="",
                    label="surprise", onset=1, apex=2, offset=3, fps=200.0)


def _reject(spec, reason):
    return {"row": spec.row, "clip": spec.clip_id, "reason": reason, "detail": f"{reason}!",
            "dataset": spec.dataset}


SPECS = [_spec(2, "casme2", "casme2/sub01", "EP01"), _spec(3, "casme2", "casme2/sub02", "EP01"),
         _spec(4, "casme2", "casme2/sub02", "EP02"), _spec(5, "casme2", "casme2/sub03", "EP01"),
         _spec(6, "casme2", "casme2/sub04", "EP01"),
         _spec(2, "samm", "samm/006", "006_1"), _spec(3, "samm", "samm/007", "007_1")]
# annotation-level reject of a row whose subject also has a ClipSpec
ROWS = SPECS + [Reject(7, "casme2/sub02/EP09", "unknown_label", "x", dataset="casme2")]
REJECTS = [_reject(SPECS[1], "missing_folder"), _reject(SPECS[2], "too_many_frames"),
           {"row": 7, "clip": "casme2/sub02/EP09", "reason": "unknown_label", "detail": "x",
            "dataset": "casme2"},
           _reject(SPECS[5], "missing_folder"), _reject(SPECS[6], "missing_folder")]
SUMMARY = {"clips_by_subject": {"casme2/sub01": 1, "casme2/sub03": 1, "casme2/sub04": 1},
           "by_dataset": {"casme2": {"rows": 6, "converted": 3, "rejected": 3},
                          "samm": {"rows": 2, "converted": 0, "rejected": 2}}}


def test_subjects_whose_clips_were_all_rejected_are_listed_with_reasons_not_folded():
    found = coverage(ROWS, SUMMARY, REJECTS, "/report")
    assert found.subjects == {"casme2/sub01": "casme2", "casme2/sub03": "casme2",
                              "casme2/sub04": "casme2"}
    assert found.subjects_without_clips == {
        "casme2/sub02": {"dataset": "casme2", "detail": "missing_folder!", "rejected": {
            "missing_folder": 1, "too_many_frames": 1, "unknown_label": 1}},
        "samm/006": {"dataset": "samm", "detail": "missing_folder!",
                     "rejected": {"missing_folder": 1}},
        "samm/007": {"dataset": "samm", "detail": "missing_folder!",
                     "rejected": {"missing_folder": 1}}}
    assert found.datasets_without_clips == {"samm": {"rows": 2,
                                                     "rejected": {"missing_folder": 2}}}
    assert json.loads(json.dumps(found.describe()))["ingest_report"] == "/report"
    loso = protocol_folds("loso", found.subjects)
    assert loso == [["casme2/sub01"], ["casme2/sub03"], ["casme2/sub04"]]


def test_leave_one_dataset_out_skips_a_dataset_that_converted_nothing():
    summary = {"clips_by_subject": {"casme2/sub01": 1, "casme2/sub03": 1, "samm/006": 2},
               "by_dataset": {"casme2": {"rows": 6, "converted": 2, "rejected": 4},
                              "samm": {"rows": 2, "converted": 2, "rejected": 0},
                              "smic": {"rows": 1, "converted": 0, "rejected": 1}}}
    specs = SPECS + [_spec(2, "smic", "smic/s1", "s1_sur_01")]
    rejects = [_reject(specs[-1], "no_frames")]
    found = coverage(specs, summary, rejects)
    assert protocol_folds("lodo", found.subjects) == [["casme2/sub01", "casme2/sub03"],
                                                      ["samm/006"]]
    assert found.datasets_without_clips == {"smic": {"rows": 1, "rejected": {"no_frames": 1}}}
    assert found.subjects_without_clips["smic/s1"]["rejected"] == {"no_frames": 1}
    # too few datasets left: the error says which one converted nothing, and why
    only_casme2 = coverage(SPECS, SUMMARY, REJECTS)
    with pytest.raises(UserError, match="at least 2 datasets"):
        protocol_folds("lodo", only_casme2.subjects)
    note = without_clips_note(only_casme2)
    assert note == ("; no converted clip: samm (missing_folder: 2), casme2/sub02 "
                    "(missing_folder: 1, too_many_frames: 1, unknown_label: 1)")


def test_rejects_file_is_read_line_by_line(tmp_path):
    (tmp_path / "rejects.jsonl").write_text("".join(json.dumps(r) + "\n" for r in REJECTS))
    assert read_rejects(str(tmp_path)) == REJECTS
