"""How the clips of an ingestion job are cut into shards: one task and one record file each.

The shards are planned on the launching machine, before the job starts, so that every
runner converts the same clips into the same files, and so that they hold about the same
number of frames: a worker that draws a shard twice the size of the others keeps the
job waiting while the others idle (with hashed shards, 15 shards of 480 clips ranged
from 0.4 s to 20 s of work). Shards of 16 clips keep the wait for the last task short.

A shard never holds two subjects. Splitting by subject (components/subject_split.py)
then moves whole files, never records: a cross-validation fold links the converted
files into its train and eval splits instead of copying the dataset once per fold.
"""
from __future__ import annotations

import heapq
import math

from .clips import ClipSpec

MIN_SHARDS = 8
MAX_SHARDS = 64
CLIPS_PER_SHARD = 16
# How the record files are cut, hashed into MerExampleGen's cache key: a conversion
# cached by an earlier layout (files mixing subjects) is not reused.
RECORD_LAYOUT = "one subject per record file"


def shard_count(clips: int) -> int:
    """The shards a job's frames are cut for: about CLIPS_PER_SHARD clips each,
    rounded up to a multiple of MIN_SHARDS so that 1, 2, 4 or 8 workers get the same
    number of shards, at most MAX_SHARDS, never more than there are clips. The plan
    (``plan_shards``) sizes its shards from it; with subjects that do not divide into
    whole shards it has a few more or fewer."""
    wanted = -(-max(clips // CLIPS_PER_SHARD, 1) // MIN_SHARDS) * MIN_SHARDS
    return max(1, min(clips, MAX_SHARDS, wanted))


def shard_key(spec: ClipSpec) -> str:
    """The intervals of one remote video go to one shard, whose task copies the video
    here once (ingestion/video.py); local videos and frame folders spread by clip."""
    return spec.video if "://" in spec.video else spec.clip_id


def clip_frames(spec: ClipSpec) -> int:
    return spec.offset - spec.onset + 1


def _fill(weights: dict, members: dict, shards: int) -> list[list]:
    """The keys, largest first, each to the shard with the fewest frames so far (ties:
    the lowest index); empty shards left out."""
    loads = [(0, index) for index in range(shards)]
    planned: list[list] = [[] for _ in range(shards)]
    for key in sorted(weights, key=lambda k: (-weights[k], k)):
        load, index = heapq.heappop(loads)
        planned[index].extend(members[key])
        heapq.heappush(loads, (load + weights[key], index))
    return [group for group in planned if group]


def plan_shards(specs: list) -> list[tuple[int, list]]:
    """[(shard index, its specs)], indices 0..n-1, every shard of one subject.

    ``shard_count`` sets the frames a shard should hold (the job's frames over that
    count); each subject is cut into the whole number of such shards nearest its
    frames (at least one), filled largest key (``shard_key``) first, so a shard holds
    from about half to one and a half times the target. Cutting every subject above
    the target in two instead made 48 shards of 480 clips where 32 were planned, and
    the Dask workers lost 6% of their speed to the extra tasks
    (bench/ingest_throughput.py). The plan depends on the specs only, so every runner
    writes the same files."""
    if not specs:
        return []
    by_subject: dict[str, tuple[dict, dict]] = {}
    for spec in specs:
        weights, members = by_subject.setdefault(spec.subject, ({}, {}))
        key = shard_key(spec)
        weights[key] = weights.get(key, 0) + clip_frames(spec)
        members.setdefault(key, []).append(spec)
    target = sum(clip_frames(s) for s in specs) / shard_count(len(specs))
    groups = []
    for subject in sorted(by_subject):
        weights, members = by_subject[subject]
        shards = min(len(weights), max(1, math.floor(sum(weights.values()) / target + 0.5)))
        groups.extend(_fill(weights, members, shards))
    return list(enumerate(groups))
