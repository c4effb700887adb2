"""Shards of an ingestion job: planned before the job, of about equal frames."""
import dataclasses
import random

from mer_tfx.ingestion.clips import ClipSpec
from mer_tfx.ingestion.shards import MAX_SHARDS, plan_shards, shard_count


def _spec(index: int, frames: int, video: str = "") -> ClipSpec:
    return ClipSpec(row=index + 2, dataset="casme2", subject=f"sub{index % 7:02d}",
                    clip=f"EP{index:03d}", clip_dir=f"/data/EP{index:03d}", label="others",
                    onset=10, apex=10 + frames // 2, offset=10 + frames - 1, fps=200.0,
                    video=video)


def test_shard_count_is_a_multiple_of_eight_up_to_the_cap_and_never_above_the_clips():
    assert [shard_count(n) for n in (0, 1, 5, 8, 100, 480, 600, 5000)] == \
        [1, 1, 5, 8, 8, 32, 40, MAX_SHARDS]


def test_shards_hold_one_subject_about_equal_frames_and_every_clip_once():
    rng = random.Random(3)
    specs = [_spec(i, rng.randint(8, 60)) for i in range(480)]  # 7 subjects
    planned = plan_shards(specs)
    assert [index for index, _ in planned] == list(range(len(planned)))
    assert sorted(s.clip_id for _, group in planned for s in group) == \
        sorted(s.clip_id for s in specs)
    assert all(len({s.subject for s in group}) == 1 for _, group in planned)
    # each subject cut into the whole number of shards of the job's frames / 32
    # nearest its frames
    target = sum(s.offset - s.onset + 1 for s in specs) / shard_count(len(specs))
    frames = [sum(s.offset - s.onset + 1 for s in group) for _, group in planned]
    assert 32 - 4 <= len(planned) <= 32 + 4
    assert max(frames) <= 1.5 * target + 60  # at most one clip over
    assert min(frames) >= target / 2 - 60


def test_a_subject_smaller_than_a_shard_gets_one_of_its_own():
    big = [dataclasses.replace(_spec(i, 20), subject="big") for i in range(96)]
    small = [_spec(i, 20) for i in range(7)]  # sub00 .. sub06, one clip each
    planned = plan_shards(big + small)  # 8 shards of 257.5 frames: big has 7.5
    subjects = [group[0].subject for _, group in planned]
    assert sorted(subjects) == ["big"] * 7 + [f"sub{i:02d}" for i in range(7)]
    assert sorted(len(group) for _, group in planned if group[0].subject == "big") == \
        [13] * 2 + [14] * 5


def test_the_plan_depends_on_the_clips_not_their_order():
    specs = [_spec(i, 10 + i % 13) for i in range(100)]
    shuffled = list(specs)
    random.Random(0).shuffle(shuffled)
    as_sets = lambda plan: [(i, sorted(s.clip_id for s in g)) for i, g in plan]  # noqa: E731
    assert as_sets(plan_shards(specs)) == as_sets(plan_shards(shuffled))


def test_intervals_of_one_remote_video_share_a_shard():
    specs = [dataclasses.replace(_spec(i, 20, video=f"gs://b/v{i % 3}.mp4"),
                                 subject="sub00") for i in range(12)]
    planned = plan_shards(specs)
    assert len(planned) == 3  # the one subject's 240 frames want 8 shards: 3 videos
    for _, group in planned:
        assert len({s.video for s in group}) == 1
