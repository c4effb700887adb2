"""Ingestion throughput: the Beam job (DirectRunner 1 and 2 workers, DaskRunner 2
workers) vs a bare sequential loop, on JPEG frames of real-dataset size.

Both sides do the same frame work on the same frames: read the file, decode to gray,
find the face on the onset frame, crop, resize, PNG-encode (the Beam job also finds
the landmarks, builds and writes the gzip SequenceExample records, the loop does not).
The loop is the frame path as it was when the issue set the ceiling (faces of at
least a fifth of the frame searched on the full frame); the job uses today's (faces of
at least a quarter searched on a 240-px copy, the eyes crop resampled from a window of
the frame, records in gzip's stored blocks: ingestion/records.py). The job runs with
registration, flow and apex spotting off for the comparison (the same work as the
loop), and once more with everything on to show their cost.

Two bare loops in two forked processes over disjoint halves of the clips give the
machine's own ceiling for any 2-worker job; it is measured right before the DaskRunner
run, whose figure net of start-up is printed as a ratio to it. The job does more frame
work than the bare loop (landmarks, eye alignment, the records), so the bench also runs
that work (convert_clip and the gzip TFRecord write, no Beam) in two spawned processes:
the ratio to it is the share the runner itself loses.

Start-up: each runner first runs the same job on 2 clips twice; the second of these
runs (its wall time, 2 clips of frames included) is the start-up subtracted for "net
of start-up" (the first warms a Dask cluster's workers, which import Beam, TensorFlow
and OpenCV on their first task, as a cluster in use already has; its time is printed
as "cold"). The Dask cluster (2 worker processes of 1 thread) is started before the
timing, twice: as Dask starts it, and with Dask's statistical profiler off (it samples
the converting thread's stack every 10 ms; the README advises it off on an ingestion
cluster). For the DaskRunner the bench also reads the cluster's task stream: the
conversion tasks, each worker's busy seconds, and the span from the first task's
start to the last one's end. Load averages are printed as the machine is shared.

    python bench/ingest_throughput.py [--subjects 24] [--clips-per-class 4] [--frame-size 534]
        [--runs loop,direct1,direct2,dask,all_on]
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
from mer_tfx.synthetic import generate

DIRECT_1 = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
DIRECT_2 = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
SAME_WORK = {"flow": False, "register": False, "apex_fallback": "midpoint"}
RUNS = ("direct1", "direct2", "dask", "all_on")
GOAL = 0.85  # the DaskRunner's share of the ceiling, net of start-up (issue 23)


def sequential_loop(specs, size: int) -> int:
    """The baseline: a plain Python loop over clips and frames, no Beam, no records."""
    frames = 0
    for spec in specs:
        available = fileio.frame_files(spec.clip_dir)
        box = None
        for position, number in enumerate(range(spec.onset, spec.offset + 1)):
            gray = decode_gray(fileio.read_bytes(available[number]), available[number])
            if position == 0:
                box = face_box(gray, detect_side=None, min_face=0.2)
            crop_resize_encode(gray, box, size)
            frames += 1
    return frames


def _loop_share(args) -> tuple[int, float]:
    specs, size = args
    started = time.process_time()
    return sequential_loop(specs, size), time.process_time() - started


def parallel_loops(specs, size: int, processes: int = 2) -> tuple[float, float]:
    """The machine's ceiling: the bare loop in ``processes`` forked processes over
    disjoint halves of the clips, no Beam. Returns the aggregate frames/s and the CPU
    seconds per frame (all threads of the processes)."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(processes) as pool:
        pool.map(_loop_share, [(specs[:1], size)] * processes)  # start the processes
        started = time.perf_counter()
        shares = pool.map(_loop_share, [(specs[share::processes], size)
                                        for share in range(processes)], chunksize=1)
        elapsed = time.perf_counter() - started
    frames = sum(f for f, _ in shares)
    return frames / elapsed, sum(c for _, c in shares) / frames


def _job_work_share(args) -> tuple[int, float]:
    """The job's own frame work without Beam: convert_clip (landmarks, eye alignment,
    the SequenceExample) and the gzip TFRecord write, over ``specs``."""
    import tensorflow as tf

    from mer_tfx.ingestion.convert import convert_clip
    from mer_tfx.ingestion.records import record_file_options

    specs, size, path = args
    started, frames = time.process_time(), 0
    with tf.io.TFRecordWriter(path, options=record_file_options()) as writer:
        for spec in specs:
            result = convert_clip(spec, size, True, **SAME_WORK)
            if hasattr(result, "serialized"):
                writer.write(result.serialized)
                frames += result.num_frames
    return frames, time.process_time() - started


def job_work_loops(specs, size: int, work: str, processes: int = 2) -> tuple[float, float]:
    """The same job's frame work in ``processes`` plain processes (spawned, warmed up)
    over disjoint halves of the clips: what 2 workers could reach with no runner at
    all. Returns the aggregate frames/s and the CPU seconds per frame."""
    import multiprocessing

    paths = [os.path.join(work, f"plain-{share}.tfrecord.gz") for share in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map(_job_work_share, [(specs[:1], size, path) for path in paths], chunksize=1)
        started = time.perf_counter()
        shares = pool.map(_job_work_share, [(specs[share::processes], size, paths[share])
                                            for share in range(processes)], chunksize=1)
        elapsed = time.perf_counter() - started
    frames = sum(f for f, _ in shares)
    return frames / elapsed, sum(c for _, c in shares) / frames


def _cpu_seconds() -> float:
    """CPU seconds (user + system, all threads) of the calling process so far."""
    times = os.times()
    return times.user + times.system


def _write_subset(annotations: str, out_csv: str, rows: int) -> None:
    """The first ``rows`` clips of a CASME II sheet, as a CSV the same reader takes."""
    import csv

    from mer_tfx.ingestion.tables import read_table

    table = read_table(annotations, ["Subject", "Filename", "OnsetFrame", "OffsetFrame"])
    with open(out_csv, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0][1]))
        writer.writeheader()
        writer.writerows(record for _, record in table[:rows])


def _load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def _timed_ingest(source, out: str, size: int, beam_args, options) -> tuple[dict, float]:
    started = time.perf_counter()
    summary = run_ingest(source, out, size=size, beam_args=beam_args, convert_options=options)
    return summary, time.perf_counter() - started


def _is_conversion(key: str) -> bool:
    """Dask names a fused task after its steps: the Create's partition, the conversion
    DoFn and what follows up to the report's shuffle (whose first join it joins)."""
    return ("from_sequence" in key and "apply_dofn" in key) or \
        "apply_dofn_to_bundle-concat-shuffle-join" in key


def task_report(stream: list, started: float) -> str:
    """The conversion tasks of a Dask run (``_is_conversion``; one more for the annotation
    rejects), per worker busy seconds, and their span from ``started`` (epoch s)."""
    spans = [(entry["worker"], s["start"], s["stop"]) for entry in stream
             for s in entry["startstops"] if s["action"] == "compute"
             and _is_conversion(str(entry["key"]))]
    if not spans:
        return "no conversion task found in the task stream"
    busy: dict = {}
    for worker, start, stop in spans:
        busy[worker] = busy.get(worker, 0.0) + stop - start
    first, last = min(s[1] for s in spans), max(s[2] for s in spans)
    return (f"{len(spans)} conversion tasks from {first - started:.1f} s to "
            f"{last - started:.1f} s; busy per worker: "
            + ", ".join(f"{b:.1f} s" for b in sorted(busy.values(), reverse=True)))


def run_job(name, beam_args, options, source, small, work, size, loop_fps, client=None):
    """Warm-up and start-up runs on 2 clips, then the job; prints one line. Returns the
    net frames/s and, with a Dask ``client``, its workers' CPU seconds per frame."""
    from contextlib import nullcontext

    _, cold = _timed_ingest(small, os.path.join(work, "startup"), size, beam_args, options)
    _, startup = _timed_ingest(small, os.path.join(work, "startup"), size, beam_args, options)
    stream = None
    if client is not None:
        from distributed import get_task_stream

        stream = get_task_stream(client=client)
    cpu = (lambda: sum(client.run(_cpu_seconds).values())) if client else (lambda: 0.0)
    with stream or nullcontext():
        started, cpu_before, here_before = time.time(), cpu(), _cpu_seconds()
        summary, elapsed = _timed_ingest(source, os.path.join(work, "job"), size,
                                         beam_args, options)
        worker_cpu = (cpu() - cpu_before) / summary["frames"]
        here_cpu = (_cpu_seconds() - here_before) / summary["frames"]
    fps = summary["frames"] / elapsed
    net = summary["frames"] / max(elapsed - startup, 1e-9)
    print(f"{name:<38s} {fps:8.1f} frames/s   ratio {fps / loop_fps:.2f}   ({elapsed:.1f} s; "
          f"start-up {startup:.1f} s, cold {cold:.1f} s; net of start-up: {net:.1f} "
          f"frames/s, ratio {net / loop_fps:.2f})   [{_load()}]", flush=True)
    if stream is not None:
        print(f"{'':<38s} {task_report(stream.data, started)}; {len(stream.data)} tasks "
              f"in all; this process (client, and the scheduler of a LocalCluster) "
              f"{1e3 * here_cpu:.2f} ms CPU per frame", flush=True)
    return net, worker_cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=24)
    parser.add_argument("--clips-per-class", type=int, default=4)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frame-size", type=int, default=534,
                        help="synthetic frame height; the width is 1.2x (534: 640x534 JPEG, "
                             "real CASME II frames are 640x480)")
    parser.add_argument("--runs", default=",".join(RUNS),
                        help=f"which Beam runs, comma-separated, of {','.join(RUNS)}")
    args = parser.parse_args(argv)
    runs = [r for r in args.runs.split(",") if r]
    if set(runs) - set(RUNS):
        parser.error(f"--runs: choose among {','.join(RUNS)}")
    work = tempfile.mkdtemp(prefix="mer_bench_ingest_")
    try:
        data = generate("casme2", os.path.join(work, "data"), subjects=args.subjects,
                        clips_per_class=args.clips_per_class, frame_size=args.frame_size,
                        progress=False)
        specs, _ = split_rows(read_annotations("casme2", data.root, data.annotations))
        source = Source("casme2", data.root, data.annotations)
        small_csv = os.path.join(work, "small.csv")
        _write_subset(data.annotations, small_csv, rows=2)
        small = Source("casme2", data.root, small_csv)
        sequential_loop(specs[:2], args.size)  # warm the file cache and OpenCV
        started = time.perf_counter()
        frames = sequential_loop(specs, args.size)
        loop_fps = frames / (time.perf_counter() - started)
        height, width = args.frame_size, 2 * int(round(args.frame_size * 0.6))
        print(f"dataset: {len(specs)} clips, {frames} JPEG frames of {width}x{height}, "
              f"output {args.size}x{args.size}, {os.cpu_count()} cores   [{_load()}]")
        print(f"{'sequential loop':<38s} {loop_fps:8.1f} frames/s   ratio 1.00", flush=True)
        jobs = {"direct1": ("DirectRunner, 1 worker (in-process)", DIRECT_1, SAME_WORK),
                "direct2": ("DirectRunner, 2 worker processes", DIRECT_2, SAME_WORK),
                "all_on": ("DirectRunner, 2 workers, all on", DIRECT_2, {})}
        for run in runs:
            if run == "dask":
                _dask_run(source, small, work, args.size, specs, loop_fps)
            else:
                run_job(*jobs[run], source, small, work, args.size, loop_fps)
        print("(start-up: the wall time of the same job on 2 clips, the second of two such "
              "runs just before the job; cold: the first)")
        print(f"(small jobs run in-process below {SMALL_JOB_FRAMES} frames: "
              f"pipeline/beam_args.py)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _dask_run(source, small, work, size, specs, loop_fps) -> None:
    """The ceiling, then the DaskRunner on a local cluster of 2 one-thread workers, as
    Dask starts them and with its statistical profiler off (as the README advises for
    an ingestion cluster), and the ratios to the ceiling."""
    import dask
    from distributed import Client, LocalCluster

    ceiling, ceiling_cpu = parallel_loops(specs, size)
    print(f"{'2 bare loops in 2 processes (ceiling)':<38s} {ceiling:8.1f} frames/s   "
          f"ratio {ceiling / loop_fps:.2f}   [{_load()}]", flush=True)
    plain, plain_cpu = job_work_loops(specs, size, work)
    print(f"{'job frame work in 2 plain processes':<38s} {plain:8.1f} frames/s   "
          f"ratio {plain / loop_fps:.2f}   [{_load()}]", flush=True)
    results = {}
    for profiler in (True, False):
        name = "DaskRunner, 2 workers" + ("" if profiler else ", profiler off")
        with dask.config.set({"distributed.worker.profile.enabled": profiler}), \
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                             dashboard_address=None) as cluster, Client(cluster) as client:
            assert client.run(lambda: dask.config.get("distributed.worker.profile.enabled")
                              ) == {w: profiler for w in client.scheduler_info()["workers"]}
            dask_args = ["--runner=DaskRunner", f"--dask_address={cluster.scheduler_address}"]
            results[name] = run_job(name, dask_args, SAME_WORK, source, small, work, size,
                                    loop_fps, client=client)
    for name, (net, worker_cpu) in results.items():
        print(f"{name}: net of start-up / ceiling {net / ceiling:.2f} (goal >= {GOAL}); "
              f"/ the job's work in 2 plain processes {net / plain:.2f}; CPU per frame "
              f"(all threads; robust to the load): bare loops {1e3 * ceiling_cpu:.2f} ms, "
              f"the job's work in plain processes {1e3 * plain_cpu:.2f} ms, Dask workers "
              f"{1e3 * worker_cpu:.2f} ms", flush=True)


if __name__ == "__main__":
    main()
