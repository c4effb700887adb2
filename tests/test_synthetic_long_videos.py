"""mer-tfx synth for the long-video layouts: the readers give back the manifest's truth."""
import json
import os

import pytest

from mer_tfx.cli import main
from mer_tfx.ingestion.long_sheets import read_long_videos
from mer_tfx.ingestion.long_videos import check_frames
from mer_tfx.synthetic.long_layouts import LONG_LAYOUTS, generate_long


@pytest.mark.parametrize("layout", sorted(LONG_LAYOUTS))
def test_long_layout_reads_back_as_its_manifest(layout, tmp_path):
    manifest = generate_long(layout, str(tmp_path / layout), subjects=1, videos_per_subject=2,
                             seconds=5 if layout == "samm_lv" else 8, frame_size=96, seed=1)
    fps = manifest["fps"]
    videos, rejects = read_long_videos(layout, manifest["root"], manifest["annotations"],
                                       manifest["emotions"])
    assert [v.name for v in videos] == sorted(v["name"] for v in manifest["videos"])
    for video in videos:
        video, more, first, last = check_frames(video)
        rejects += more
        truth = next(v for v in manifest["videos"] if v["name"] == video.name)
        assert (first, last) == (truth["first"], truth["first"] + truth["frames"] - 1)
        assert [(t.onset, t.apex, t.offset, t.type, t.label) for t in video.truths] == [
            (t["onset"], t["apex"], t["offset"], t["type"], t["label"]) for t in truth["truths"]]
        assert video.repairs == ()
    assert rejects == []
    truths = [t for v in manifest["videos"] for t in v["truths"]]
    assert {t["type"] for t in truths} == {"me", "mae"}
    for t in truths:
        seconds = (t["offset"] - t["onset"] + 1) / fps
        assert seconds <= 0.5 if t["type"] == "me" else seconds > 0.5
        assert 1.0 <= t["px_640"] <= 2.0 if t["type"] == "me" else t["px_640"] >= 5.0


def test_cli_writes_blinks_and_head_moves_and_refuses_a_foreign_folder(tmp_path, capsys):
    out = tmp_path / "sq"
    assert main(["synth", "--layout", "casme_sq", "--out", str(out), "--subjects", "2",
                 "--videos-per-subject", "2", "--seconds", "12", "--frame-size", "96"]) == 0
    manifest = json.loads((out / "synth_manifest.json").read_text())
    kinds = {d["kind"] for v in manifest["videos"] for d in v["distractors"]}
    assert kinds == {"blink", "head"}
    assert os.path.exists(out / "rawpic" / "s16" / "16_0102eatingworms" / "img360.jpg")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    capsys.readouterr()
    assert main(["synth", "--layout", "samm_lv", "--out", str(foreign)]) == 2
    assert "nothing was deleted" in capsys.readouterr().err
    assert (foreign / "notes.txt").exists()
