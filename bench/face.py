"""Face analysis speed: per-frame analysis fps, FER crop throughput, and cost vs video length.

    python bench/face.py            # prints one table; ~1 minute

Targets (issue 2): whole per-frame analysis (landmarks + blendshapes + FER) on a 512x512 frame >= 60
frames/s on one core; FER batch throughput >= 500 crops/s on 2 cores; per-frame cost flat in length.
Baselines are measured in the same run (eager PyTorch for the nets), since these machines are noisy.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.summary import record  # noqa: E402
from recognition.analysis import FaceAnalysisPipeline  # noqa: E402
from recognition.face import FaceAnalyzer, FaceAnalyzerConfig  # noqa: E402
from recognition.fer import ExpressionRecognizer  # noqa: E402
from recognition.image_io import load_image  # noqa: E402
from rigs.assets import model_path, sample_path  # noqa: E402


def timed(fn, repeat: int) -> float:
    """Seconds per call (best of 3 rounds of `repeat` calls, after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


def moving_frames(portrait: np.ndarray, count: int, fps: float = 25.0):
    for i in range(count):
        yield i / fps, np.roll(portrait, int(8 * np.sin(i / 10)), axis=1)


def main() -> None:
    console = Console(width=120)
    rows: list[tuple[str, str, str, str]] = []
    all_cores = os.sched_getaffinity(0)
    portrait = load_image(sample_path("portrait.png"))  # 512 x 512

    # 1. Whole per-frame analysis on one core.
    os.sched_setaffinity(0, {min(all_cores)})
    torch.set_num_threads(1)
    os.environ["AFFECT_STUDIO_THREADS"] = "1"
    with FaceAnalyzer() as analyzer:
        pipeline = FaceAnalysisPipeline(analyzer)
        still = timed(lambda: pipeline.image(portrait), 10)
        rows.append(
            (
                "still image analysis, 512x512, 1 core",
                f"{1 / still:.0f} frames/s",
                "",
                "+ SSD detector pass (small/group faces)",
            )
        )
        n = 200
        start = time.perf_counter()
        pipeline.video(moving_frames(portrait, n), fps=25)
        video = (time.perf_counter() - start) / n
        record("face analysis", "per-frame analysis (video), 512², 1 core", f"{1 / video:.0f} frames/s", ">= 60")
        rows.append(
            (
                "per-frame analysis (video, tracking), 512x512, 1 core",
                f"{1 / video:.0f} frames/s",
                ">= 60",
                "landmarks+blendshapes+pose+FER",
            )
        )
        with FaceAnalyzer(FaceAnalyzerConfig(use_detector=False)) as landmarker_only:
            single = timed(lambda: FaceAnalysisPipeline(landmarker_only).image(portrait), 20)
            landmarks_only = timed(lambda: landmarker_only(portrait), 20)
        rows.append(
            (
                "still image without the SSD pass, 1 core",
                f"{1 / single:.0f} frames/s",
                ">= 60",
                "landmarks+blendshapes+pose+FER",
            )
        )
        rows.append(("  of which landmarker alone", f"{1 / landmarks_only:.0f} frames/s", "", "MediaPipe .task"))

        # 3. Per-frame cost against video length (flat time and memory).
        for count in (100, 400, 1600):
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            pipeline.video(moving_frames(portrait, count), fps=25)
            per_frame = (time.perf_counter() - start) / count
            grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
            record("face analysis", f"video of {count} frames, 1 core", f"{per_frame * 1000:.1f} ms/frame",
                   "flat", f"peak RSS +{grown:.0f} MB")  # fmt: skip
            rows.append(
                (
                    f"video of {count} frames, 1 core",
                    f"{per_frame * 1000:.1f} ms/frame",
                    "flat",
                    f"peak RSS +{grown:.0f} MB",
                )
            )

    # 2. FER throughput on all cores (2 here), ONNX Runtime vs eager PyTorch.
    os.sched_setaffinity(0, all_cores)
    os.environ.pop("AFFECT_STUDIO_THREADS")
    torch.set_num_threads(len(all_cores))
    with FaceAnalyzer() as analyzer:
        face = analyzer(portrait)[0]
    recognizer = ExpressionRecognizer()
    rgb, grey = recognizer.crops(portrait, [face.landmarks])
    count = 512
    rng = np.random.default_rng(0)
    rgb_batch = np.clip(np.repeat(rgb, count, 0) + rng.integers(-8, 8, (count, 112, 112, 3)), 0, 255).astype(np.uint8)
    grey_batch = np.clip(np.repeat(grey, count, 0) + rng.integers(-8, 8, (count, 64, 64)), 0, 255).astype(np.uint8)
    ours = timed(lambda: recognizer.predict_crops(rgb_batch, grey_batch), 2)

    from recognition.nets.faceapi_expression import FaceExpressionNet
    from recognition.nets.mini_xception import MiniXception

    torch_expression = FaceExpressionNet.from_safetensors(model_path("faceapi_expression.safetensors"))
    torch_fer = MiniXception.from_safetensors(model_path("fer_mini_xception.safetensors"))

    def eager() -> None:
        with torch.inference_mode():
            for i in range(0, count, 64):
                torch_expression(torch.from_numpy(rgb_batch[i : i + 64]).permute(0, 3, 1, 2).float())
                torch_fer(torch.from_numpy(grey_batch[i : i + 64])[:, None].float())

    baseline = timed(eager, 1)
    cores = len(all_cores)
    record("face analysis", f"FER crops, {cores} cores", f"{count / ours:.0f} crops/s", ">= 500",
           f"{baseline / ours:.1f}x eager PyTorch (same run)")  # fmt: skip
    rows.append(
        (f"FER ensemble throughput, {cores} cores", f"{count / ours:.0f} crops/s", ">= 500", "both nets, ONNX Runtime")
    )
    rows.append(
        (
            f"  baseline: eager PyTorch, {cores} cores",
            f"{count / baseline:.0f} crops/s",
            "",
            f"ours is {baseline / ours:.1f}x faster",
        )
    )

    table = Table(title=f"Face analysis speed ({os.cpu_count()} CPUs, {torch.__version__})")
    for column in ("measurement", "result", "target", "notes"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
