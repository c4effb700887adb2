"""How the clips of an ingestion job are cut into shards: one task and one record file each.

The shards are planned on the launching machine, before the job starts, so that every
runner converts the same clips into the same files, and so that they hold about the same
number of frames: a worker that draws a shard twice the size of the others keeps the
job waiting while the others idle (with hashed shards, 15 shards of 480 clips ranged
from 0.4 s to 20 s of work). Shards of 16 clips keep the wait for the last task short.
"""
from __future__ import annotations

import heapq

from .clips import ClipSpec

MIN_SHARDS = 8
MAX_SHARDS = 64
CLIPS_PER_SHARD = 16


def shard_count(clips: int) -> int:
    """Record files (and conversion tasks) of a job: about CLIPS_PER_SHARD clips each,
    rounded up to a multiple of MIN_SHARDS so that 1, 2, 4 or 8 workers get the same
    number of shards, at most MAX_SHARDS, never more than there are clips."""
    wanted = -(-max(clips // CLIPS_PER_SHARD, 1) // MIN_SHARDS) * MIN_SHARDS
    return max(1, min(clips, MAX_SHARDS, wanted))


def shard_key(spec: ClipSpec) -> str:
    """The intervals of one remote video go to one shard, whose task copies the video
    here once (ingestion/video.py); local videos and frame folders spread by clip."""
    return spec.video if "://" in spec.video else spec.clip_id


def clip_frames(spec: ClipSpec) -> int:
    return spec.offset - spec.onset + 1


def plan_shards(specs: list, shards: int | None = None) -> list[tuple[int, list]]:
    """[(shard index, its specs)] for the non-empty shards of ``shards`` (default:
    ``shard_count``), each holding
    about the same number of frames: the keys (``shard_key``), largest first, each go to
    the shard with the fewest frames so far (ties: the lowest index). The plan depends
    on the specs only, so every runner writes the same files."""
    shards = shard_count(len(specs)) if shards is None else shards
    weights: dict[str, int] = {}
    members: dict[str, list] = {}
    for spec in specs:
        key = shard_key(spec)
        weights[key] = weights.get(key, 0) + clip_frames(spec)
        members.setdefault(key, []).append(spec)
    loads = [(0, index) for index in range(shards)]
    planned: list[list] = [[] for _ in range(shards)]
    for key in sorted(weights, key=lambda k: (-weights[k], k)):
        load, index = heapq.heappop(loads)
        planned[index].extend(members[key])
        heapq.heappush(loads, (load + weights[key], index))
    return [(index, group) for index, group in enumerate(planned) if group]
