"""Ingestion throughput: the Beam job (DirectRunner 1 and 2 workers, DaskRunner 2
workers) vs a bare sequential loop, on JPEG frames of real-dataset size.

Both sides do the same frame work on the same frames: read the file, decode to gray,
find the face on the onset frame, crop, resize, PNG-encode (the Beam job also builds
and writes the gzip SequenceExample records, the loop does not). The loop is the
frame path as it was (faces searched on the full frame); the job uses today's (faces
searched on a 240-px copy). The job runs with registration, flow and apex spotting
off for the comparison (the same work as the loop), and once more with everything on
to show their cost. Prints frames/s and the ratio to the loop: end to end (with the
runner's start-up) and net of start-up (a run on 2 clips measures that fixed cost).
The Dask cluster (2 worker processes) is started before the timing, as a cluster
would be. Two bare loops in two forked processes over disjoint halves of the clips
give the machine's own ceiling for any 2-worker job.

    python bench/ingest_throughput.py [--subjects 24] [--clips-per-class 4] [--frame-size 534]
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import mer_tfx  # noqa: F401
from mer_tfx.datasets import Source
from mer_tfx.ingestion import fileio
from mer_tfx.ingestion.beam_job import run_ingest, split_rows
from mer_tfx.ingestion.frames import crop_resize_encode, decode_gray, face_box
from mer_tfx.ingestion.readers import read_annotations
from mer_tfx.pipeline.beam_args import SMALL_JOB_FRAMES

DIRECT_1 = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
DIRECT_2 = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
from mer_tfx.synthetic import generate


def sequential_loop(specs, size: int) -> int:
    """The baseline: a plain Python loop over clips and frames, no Beam, no records."""
    frames = 0
    for spec in specs:
        available = fileio.frame_files(spec.clip_dir)
        box = None
        for position, number in enumerate(range(spec.onset, spec.offset + 1)):
            gray = decode_gray(fileio.read_bytes(available[number]), available[number])
            if position == 0:
                box = face_box(gray, detect_side=None)
            crop_resize_encode(gray, box, size)
            frames += 1
    return frames


def _loop_share(args) -> int:
    specs, size = args
    return sequential_loop(specs, size)


def parallel_loops(specs, size: int, processes: int = 2) -> float:
    """The machine's ceiling: the bare loop in ``processes`` forked processes over
    disjoint halves of the clips, no Beam. Returns the aggregate frames/s."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(processes) as pool:
        pool.map(_loop_share, [(specs[:1], size)] * processes)  # start the processes
        started = time.perf_counter()
        frames = pool.map(_loop_share, [(specs[share::processes], size)
                                        for share in range(processes)], chunksize=1)
        return sum(frames) / (time.perf_counter() - started)


def _write_subset(annotations: str, out_csv: str, rows: int) -> None:
    """The first ``rows`` clips of a CASME II sheet, as a CSV the same reader takes."""
    import csv

    from mer_tfx.ingestion.tables import read_table

    table = read_table(annotations, ["Subject", "Filename", "OnsetFrame", "OffsetFrame"])
    with open(out_csv, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0][1]))
        writer.writeheader()
        writer.writerows(record for _, record in table[:rows])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=24)
    parser.add_argument("--clips-per-class", type=int, default=4)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frame-size", type=int, default=534,
                        help="synthetic frame height; the width is 1.2x (534: 640x534 JPEG, "
                             "real CASME II frames are 640x480)")
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="mer_bench_ingest_")
    try:
        data = generate("casme2", os.path.join(work, "data"), subjects=args.subjects,
                        clips_per_class=args.clips_per_class, frame_size=args.frame_size,
                        progress=False)
        specs, _ = split_rows(read_annotations("casme2", data.root, data.annotations))
        sequential_loop(specs[:2], args.size)  # warm the file cache and OpenCV
        started = time.perf_counter()
        frames = sequential_loop(specs, args.size)
        loop_fps = frames / (time.perf_counter() - started)
        height, width = args.frame_size, 2 * int(round(args.frame_size * 0.6))
        print(f"dataset: {len(specs)} clips, {frames} JPEG frames of {width}x{height}, "
              f"output {args.size}x{args.size}, {os.cpu_count()} cores")
        print(f"{'sequential loop':<38s} {loop_fps:8.1f} frames/s   ratio 1.00", flush=True)
        ceiling = parallel_loops(specs, args.size)
        print(f"{'2 bare loops in 2 processes (ceiling)':<38s} {ceiling:8.1f} frames/s   "
              f"ratio {ceiling / loop_fps:.2f}", flush=True)
        small = os.path.join(work, "small.csv")
        _write_subset(data.annotations, small, rows=2)
        same_work = {"flow": False, "register": False, "apex_fallback": "midpoint"}
        runs = [("DirectRunner, 1 worker (in-process)", DIRECT_1, same_work),
                ("DirectRunner, 2 worker processes", DIRECT_2, same_work)]
        from distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            dask = ["--runner=DaskRunner", f"--dask_address={cluster.scheduler_address}"]
            runs += [("DaskRunner, 2 worker processes", dask, same_work),
                     ("DirectRunner, 2 workers, all on", DIRECT_2, {})]
            for name, beam_args, options in runs:
                started = time.perf_counter()
                run_ingest(Source("casme2", data.root, small), os.path.join(work, "startup"),
                           size=args.size, beam_args=beam_args, convert_options=options)
                startup = time.perf_counter() - started
                started = time.perf_counter()
                summary = run_ingest(Source("casme2", data.root, data.annotations),
                                     os.path.join(work, "job"), size=args.size,
                                     beam_args=beam_args, convert_options=options)
                elapsed = time.perf_counter() - started
                fps = summary["frames"] / elapsed
                net = summary["frames"] / max(elapsed - startup, 1e-9)
                print(f"{name:<38s} {fps:8.1f} frames/s   ratio {fps / loop_fps:.2f}   "
                      f"({elapsed:.1f} s; net of {startup:.1f} s start-up: {net:.1f} "
                      f"frames/s, ratio {net / loop_fps:.2f})", flush=True)
        print(f"(small jobs run in-process below {SMALL_JOB_FRAMES} frames: "
              f"pipeline/beam_args.py)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
