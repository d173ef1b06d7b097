"""`affect-studio synth`: a dataset spec -> a labelled, recognition-scored facial-expression dataset."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from studio.cli import app, console
from studio.report import yield_table

log = logging.getLogger(__name__)

EXAMPLE_SPEC = "assets/specs/example.yaml"


@app.command()
def synth(
    spec: Path = typer.Argument(..., help=f"Dataset spec, YAML or JSON (example: {EXAMPLE_SPEC})."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Dataset folder: new, empty, or a run of the same spec to resume."
    ),
    workers: int = typer.Option(None, "--workers", "-w", help="Parallel workers (default: the usable cores)."),
    executor: str = typer.Option("local", "--executor", help="local (processes on this machine) or ray."),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="A Ray cluster, e.g. ray://head:10001 (default: a local Ray runtime)."
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Make only the first N jobs (a preview)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the job count and an estimated time; make nothing."),
) -> None:
    """Make a synthetic facial-expression dataset: identities × emotions × intensities × action units ×
    head poses, each image labelled exactly and scored by recognition models (FER agreement, blendshape
    read-back, identity cosine, face detectability), then kept, relabelled or rejected.

    Writes the Hugging Face `imagefolder` layout (OUT/train/LABEL/*.png + metadata.jsonl), a dataset card
    (OUT/README.md with counts, score distributions and example images) and, if the spec asks, parquet.
    Runs are resumable: kill it at any moment and run the same command again; the result is the same,
    byte for byte, with no duplicates and no gaps.

    Examples:

        affect-studio synth assets/specs/example.yaml -o out/fer --dry-run

        affect-studio synth assets/specs/example.yaml -o out/fer --workers 2

        affect-studio synth big.yaml -o /data/fer --executor ray --ray-address ray://head:10001

    Load the result with `datasets.load_dataset("imagefolder", data_dir="out/fer")`.
    """
    from generation.synthetic import DatasetSpec, SyntheticDatasetPipeline
    from generation.synthetic.executors import EXECUTORS
    from recognition.models import worker_count
    from rigs.errors import AffectStudioError

    # checked here too: --dry-run never starts an executor
    if executor not in EXECUTORS:
        raise AffectStudioError(f"--executor {executor!r} is not allowed; allowed: {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise AffectStudioError(f"--workers must be at least 1, not {workers}")
    workers = workers or worker_count()
    dataset = DatasetSpec.from_file(spec)
    if not dry_run:
        SyntheticDatasetPipeline.check_output(out)
    with SyntheticDatasetPipeline(dataset) as pipeline:
        if dry_run:
            with console.status("finding faces and timing a few images"):
                estimate = pipeline.estimate(workers, executor, out_dir=out)
            _print_estimate(estimate, dataset, limit)
            return
        with console.status("finding faces in the identity images"):
            jobs = pipeline.jobs()
        _print_identities(pipeline.identities())
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=console, transient=True) as bar:
            task = None

            def progress(done: int, total: int) -> None:
                nonlocal task
                if task is None:  # jobs done by an earlier run count as done, not as speed
                    task = bar.add_task(f"{len(jobs)} jobs", total=total, completed=done, rate="")
                    return
                speed = bar.tasks[0].speed
                bar.update(task, completed=done, rate=f"{speed:.1f} img/s" if speed else "")

            result = pipeline.run(out, workers=workers, executor=executor, ray_address=ray_address, limit=limit,
                                  progress=progress)  # fmt: skip
    _print_result(result)


def _print_identities(found) -> None:
    if found.skipped:
        table = Table(title=f"identities: {len(found.identities)} used, {len(found.skipped)} skipped")
        table.add_column("skipped")
        table.add_column("why")
        for skipped in found.skipped:
            table.add_row(str(skipped.path), skipped.reason)
        console.print(table)


def _print_estimate(estimate, spec, limit: int | None) -> None:
    jobs = min(estimate.jobs, limit) if limit else estimate.jobs
    table = Table(title=f"dry run: {jobs} jobs" + (f" (first {limit} of {estimate.jobs})" if limit else ""))
    table.add_column("emotion")
    table.add_column("images asked for", justify="right")
    for emotion, count in estimate.per_class.items():
        table.add_row(emotion, str(count))
    console.print(table)
    _print_identities(estimate.identities)
    scale = jobs / estimate.jobs
    console.print(
        f"{jobs} jobs = {len(estimate.identities.identities)} identities × {spec.cells_per_identity()} cells × "
        f"{spec.images_per_cell} images per cell"
    )
    console.print(
        f"estimated time: ~{_duration(estimate.estimated_seconds * scale)} with {estimate.workers} {estimate.executor} "
        f"worker(s) ({estimate.seconds_per_image * 1000:.0f} ms per image measured here on one core, "
        f"{estimate.fit_seconds:.2f} s to fit each portrait)"
    )
    megabytes = estimate.estimated_bytes * scale / 1e6
    disk = f"estimated disk: ~{megabytes:.1f} MB ({estimate.png_bytes / 1e3:.0f} kB per image)"
    if estimate.free_bytes is not None:
        disk += f", {estimate.free_bytes / 1e9:.1f} GB free"
        if estimate.free_bytes < estimate.estimated_bytes * scale * 1.2:
            disk += " [bold red](not enough)[/]"
    console.print(disk)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _print_result(result) -> None:
    report = result.report
    title = f"{result.out_dir}: {report.final} images from {result.done_jobs} of {result.total_jobs} jobs"
    console.print(yield_table(report, title))
    if report.rejected_reasons:
        console.print("rejected: " + "; ".join(f"{k} ({v})" for k, v in report.rejected_reasons.items()))
    speed = result.images_per_second
    made = f"made {result.new_jobs} this run"
    if speed:
        made += f" at {speed:.1f} images/s ({result.workers} {result.executor} worker(s))"
    if result.resumed_jobs:
        made += f"; {result.resumed_jobs} were done by an earlier run"
    console.print(made)
    if not result.complete:
        console.print(f"[yellow]partial:[/] run the same command again to make the other "
                      f"{result.total_jobs - result.done_jobs} jobs")  # fmt: skip
    console.print(f"wrote {result.out_dir} (dataset card: {result.files.get('card')})")
