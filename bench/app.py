"""The web app under load: N concurrent talking-face requests through its queue, one table.

    python bench/app.py [--requests 8] [--seconds 5] [--resolution 512] [--workers 2] [--no-score]

Starts the app in this process on a free loopback port (as `app.py` would, with `--workers` jobs at once),
waits for its models, then fires `--requests` talking-face requests at once from threads with
`gradio_client`, each with `--seconds` of speech (the bundled sample cut, or padded with silence, to that
length) and the bundled portrait. Reports per-request latency (p50, p95, max, from submit to result, so
queueing is included), throughput and errors. Target (issue: web app): 8 concurrent requests of 5 s of
speech all complete without error on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from bench.summary import record  # noqa: E402
from rigs.assets import sample_path  # noqa: E402


def speech_of_length(seconds: float, folder: Path) -> Path:
    """The sample speech cut to `seconds`, or padded with silence to it, as a WAV in `folder`."""
    samples, rate = soundfile.read(sample_path("speech.wav"), dtype="float32")
    wanted = int(round(seconds * rate))
    samples = samples[:wanted] if len(samples) >= wanted else np.pad(samples, (0, wanted - len(samples)))
    path = folder / f"speech_{seconds:g}s.wav"
    soundfile.write(path, samples, rate)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0, help="speech per request")
    parser.add_argument("--resolution", type=int, default=512, choices=(256, 512, 1024))
    parser.add_argument("--workers", type=int, default=2, help="the app's concurrency limit for long jobs")
    parser.add_argument("--no-score", action="store_true", help="skip the score card (re-detection of every frame)")
    args = parser.parse_args()
    console = Console(width=120)

    from gradio_client import Client, handle_file

    from studio.web import StudioSettings, build_app

    demo = build_app(StudioSettings(workers=args.workers, queue_size=max(32, args.requests)), warm_up=False)
    clock = time.perf_counter()
    demo.studio.models.warm_up()
    warm_s = time.perf_counter() - clock
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        with tempfile.TemporaryDirectory() as folder:
            audio = speech_of_length(args.seconds, Path(folder))
            client = Client(demo.local_url, verbose=False)
            values = {"portrait": handle_file(str(sample_path("portrait.png"))), "audio": handle_file(str(audio)),
                      "mode": "Emotion + intensity", "emotion_class": "happy", "intensity": 0.8,
                      "resolution": args.resolution, "score": not args.no_score}  # fmt: skip
            # one request alone first: the latency of an idle app, and the first-call costs out of the way
            clock = time.perf_counter()
            client.predict(api_name="/talking_face", **values)
            alone_s = time.perf_counter() - clock

            latencies: list[float | None] = [None] * args.requests
            errors: list[str] = []
            start = threading.Barrier(args.requests + 1)

            def one(index: int) -> None:
                own = Client(demo.local_url, verbose=False)  # one session per user, as browsers would be
                start.wait()
                began = time.perf_counter()
                try:
                    video = own.predict(api_name="/talking_face", **values)[0]
                    if not Path(video).stat().st_size:
                        raise RuntimeError("empty video")
                    latencies[index] = time.perf_counter() - began
                except Exception as error:  # report every failure, keep measuring the others
                    errors.append(f"request {index}: {type(error).__name__}: {str(error)[:120]}")

            threads = [threading.Thread(target=one, args=(i,)) for i in range(args.requests)]
            for thread in threads:
                thread.start()
            start.wait()
            clock = time.perf_counter()
            for thread in threads:
                thread.join()
            wall_s = time.perf_counter() - clock
    finally:
        demo.close()

    done = np.array([v for v in latencies if v is not None])
    title = (
        f"web app: {args.requests} concurrent talking-face requests, {args.seconds:g} s of speech each, "
        f"{args.resolution} px, score {'off' if args.no_score else 'on'}, {args.workers} at a time, "
        f"{os.cpu_count()} cores"
    )
    table = Table(title=title)
    table.add_column("measure", style="bold")
    table.add_column("value", justify="right")
    table.add_column("notes")
    table.add_row("completed", f"{len(done)}/{args.requests}", "")
    table.add_row("errors", str(len(errors)), "; ".join(errors)[:200])
    if len(done):
        table.add_row("latency p50", f"{np.percentile(done, 50):.1f} s", "submit -> result, queueing included")
        table.add_row("latency p95", f"{np.percentile(done, 95):.1f} s", "")
        table.add_row("latency min / max", f"{done.min():.1f} / {done.max():.1f} s", "")
        table.add_row(
            "throughput",
            f"{len(done) / wall_s:.2f} req/s",
            f"{len(done) * args.seconds / wall_s:.2f} s of video per s; all {len(done)} in {wall_s:.1f} s",
        )
        record("web app", f"{args.requests} concurrent talking-face requests, {args.seconds:g} s speech each",
               f"p50 {np.percentile(done, 50):.1f} s, p95 {np.percentile(done, 95):.1f} s",
               "all complete", f"{len(done)}/{args.requests} done, {len(errors)} errors, "
               f"{len(done) / wall_s:.2f} req/s")  # fmt: skip
    table.add_row("one request, idle app", f"{alone_s:.1f} s", "the first after warm-up (first-call costs in)")
    table.add_row("models warm-up", f"{warm_s:.1f} s", "once per process, before serving")
    console.print(table)
    if errors:
        sys.exit(1)


if __name__ == "__main__":  # the phone decoders' worker processes re-import this file: keep the guard
    main()
