"""Synthetic-dataset throughput: scored 256² images per second, local executor with 1 and 2 workers and Ray
with 2 workers, on the same jobs; plus where one image's time goes.

    python bench/synth.py [--spec assets/specs/example.yaml] [--jobs 208] [--out out/bench_synth]

Target (issue): >= 10 scored 256² images/s on 2 cores with the local executor. "steady" counts rendering,
scoring and writing only; "end to end" adds starting the workers (spawning processes that load the
models, or Ray's runtime) and writing the card.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.summary import record  # noqa: E402
from generation.synthetic import DatasetSpec, SyntheticDatasetPipeline  # noqa: E402
from generation.synthetic.augment import apply_augment  # noqa: E402
from generation.synthetic.render import expression_weights  # noqa: E402
from generation.synthetic.worker import encode_png  # noqa: E402
from recognition.face_crop import crop_square, identity_box  # noqa: E402
from recognition.fer import ExpressionRecognizer  # noqa: E402
from recognition.identity import IDENTITY_SIZE  # noqa: E402

CONFIGS = (("local", 1), ("local", 2), ("ray", 2))


def stage_profile(pipeline: SyntheticDatasetPipeline, jobs) -> Table:
    """Milliseconds per image for each stage, one core, models loaded and portraits fitted."""
    import cv2

    cv2.setNumThreads(1)
    runner = pipeline.runner()
    runner.warm_up()
    scorer = runner.scorer
    times = {name: [] for name in ("render", "augment", "landmarker", "FER (batched 8)", "identity net (batched 8)",
                                   "PNG encode")}  # fmt: skip
    for start in range(0, len(jobs), 8):
        chunk = jobs[start : start + 8]
        images, faces = [], []
        for job in chunk:
            renderer = runner.stills.renderer(job.identity)
            weights, _ = expression_weights(job.emotion, job.intensity, job.action_units)
            clock = time.perf_counter()
            image = renderer.render(weights, np.array(job.head, np.float32))
            times["render"].append(time.perf_counter() - clock)
            clock = time.perf_counter()
            image = apply_augment(image, job.augment, job.seed)
            times["augment"].append(time.perf_counter() - clock)
            clock = time.perf_counter()
            found = scorer.analyzer(image)
            times["landmarker"].append(time.perf_counter() - clock)
            clock = time.perf_counter()
            encode_png(image, pipeline.spec.png_compression)
            times["PNG encode"].append(time.perf_counter() - clock)
            if found:
                images.append(image)
                faces.append(found[0])
        clock = time.perf_counter()
        rgb, grey = zip(*(ExpressionRecognizer.crops(i, [f.landmarks]) for i, f in zip(images, faces, strict=True)),
                        strict=True)  # fmt: skip
        scorer.expressions.predict_crops(np.concatenate(rgb), np.concatenate(grey))
        times["FER (batched 8)"].append((time.perf_counter() - clock) / len(chunk))
        clock = time.perf_counter()
        pairs = zip(images, faces, strict=True)
        crops = np.stack([crop_square(i, identity_box(f.landmarks), IDENTITY_SIZE) for i, f in pairs])
        scorer.encoder.embed_crops(crops)
        times["identity net (batched 8)"].append((time.perf_counter() - clock) / len(chunk))
    table = Table(title=f"Where one image's time goes ({len(jobs)} jobs, one core, ms per image)")
    table.add_column("stage")
    table.add_column("ms", justify="right")
    table.add_column("share", justify="right")
    total = sum(float(np.mean(v)) for v in times.values())
    for name, values in times.items():
        table.add_row(name, f"{1000 * np.mean(values):.1f}", f"{np.mean(values) / total:.0%}")
    table.add_row("sum", f"{1000 * total:.1f}", "", style="bold")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=Path("assets/specs/example.yaml"))
    parser.add_argument("--jobs", type=int, default=208, help="jobs per configuration (the first N of the spec)")
    parser.add_argument("--out", type=Path, default=Path("out/bench_synth"))
    parser.add_argument("--configs", default="local:1,local:2,ray:2")
    args = parser.parse_args()
    console = Console(width=130)
    configs = [(kind, int(n)) for kind, n in (c.split(":") for c in args.configs.split(","))]
    spec = DatasetSpec.from_file(args.spec)
    load = os.getloadavg()[0]
    rows = []
    with SyntheticDatasetPipeline(spec) as pipeline:
        jobs = pipeline.jobs()[: args.jobs]
        for kind, workers in configs:  # first, so local x1 pays its own model loading like the others
            out = args.out / f"{kind}_{workers}"
            shutil.rmtree(out, ignore_errors=True)
            clock = time.perf_counter()
            result = pipeline.run(out, workers=workers, executor=kind, limit=len(jobs))
            wall = time.perf_counter() - clock
            rows.append((kind, workers, result, wall))
        console.print(stage_profile(pipeline, jobs[:48]))
    base = {(k, w): r for k, w, r, _ in rows}
    title = f"Synthetic dataset throughput: {len(jobs)} jobs at {spec.resolution}² "
    title += f"(load average {load:.1f} on {os.cpu_count()} cores at the start; the machine is shared)"
    table = Table(title=title)
    for column in ("executor", "workers", "start (s)", "steady img/s", "end-to-end img/s", "kept", "vs local×1",
                   "same bytes as local×1"):  # fmt: skip
        table.add_column(column, justify="right" if column not in ("executor",) else "left")
    reference = base.get(("local", 1))
    ref_files = _tree(args.out / "local_1") if reference else None
    for kind, workers, result, wall in rows:
        steady = result.images_per_second or 0.0
        speedup = f"{steady / reference.images_per_second:.2f}×" if reference and reference.images_per_second else "—"
        same = "—" if ref_files is None else ("yes" if _tree(args.out / f"{kind}_{workers}") == ref_files else "NO")
        record("synthetic data", f"scored {spec.resolution}² images, {kind} executor, {workers} worker(s)",
               f"{steady:.1f} images/s", ">= 10" if workers == 2 else "",
               f"{speedup} local x1; start {result.seconds.get('start workers', 0.0):.1f} s; "
               f"kept {result.report.final}/{result.done_jobs}; same bytes as local: {same}")  # fmt: skip
        table.add_row(
            kind, str(workers), f"{result.seconds.get('start workers', 0.0):.1f}", f"{steady:.1f}",
            f"{result.new_jobs / wall:.1f}", f"{result.report.final}/{result.done_jobs}", speedup, same,
        )  # fmt: skip
    console.print(table)
    console.print("steady: render + score + write, after workers started; end-to-end: the whole run() call")
    local1, local2, ray2 = base.get(("local", 1)), base.get(("local", 2)), base.get(("ray", 2))
    if local1 and local2:
        console.print(f"1 -> 2 local workers: {local2.images_per_second / local1.images_per_second:.2f}x steady")
    if local2 and ray2:
        start = ray2.seconds.get("start workers", 0) - local2.seconds.get("start workers", 0)
        steady = ray2.images_per_second / local2.images_per_second - 1
        console.print(f"Ray vs local, 2 workers: {start:+.1f} s to start, {steady:+.0%} steady throughput")


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


if __name__ == "__main__":
    main()
